"""The console names every model in plain English: no "Model aliass" (issue 13, item 10). Django makes a plural by
adding "s"; every registered model whose singular ends in s, x, z, ch, sh or a consonant + y says its own plural."""

from __future__ import annotations

import re

from django.contrib import admin


def test_every_console_model_has_a_real_plural(client_for, admin_user):
    wrong = []
    for model in admin.site._registry:
        singular, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)
        if re.search(r"(s|x|z|ch|sh|[^aeiou]y)$", singular) and plural == singular + "s":
            wrong.append(f"{model._meta.label}: {plural!r}")
    assert not wrong, wrong

    page = client_for(admin_user).get("/admin/").content.decode()
    assert ">Model aliases<" in page and "aliass" not in page
    assert ">AutoML builds<" in page and ">AutoML candidate models<" in page
