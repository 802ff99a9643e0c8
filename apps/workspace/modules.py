"""The navigation: each app's AppConfig lists its pages in `nav`; a module appears when its app exists.

An entry: {"section", "label", "url" (URL name), "perm" (capability, or None for any signed-in user),
"order", "admin_only"?}. The shell shows the entries the user's personas allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from apps.accounts import personas

SECTION_ORDER = ["Studio", "Data", "Build", "Deploy", "Monitor", "Govern", "Labeling", "Operations", "Administration"]


@dataclass(frozen=True)
class NavItem:
    section: str
    label: str
    url: str
    order: int


def nav_for_user(user: object) -> list[tuple[str, list[NavItem]]]:
    if not getattr(user, "is_authenticated", False):
        return []
    items: list[NavItem] = []
    for config in apps.get_app_configs():
        for entry in getattr(config, "nav", []):
            if entry.get("admin_only") and not personas.user_can(user, personas.ADMIN):
                continue
            perm = entry.get("perm")
            if perm and not personas.user_can(user, perm):
                continue
            try:
                url = reverse(entry["url"])
            except NoReverseMatch:
                continue
            items.append(NavItem(entry["section"], entry["label"], url, entry.get("order", 50)))
    sections: dict[str, list[NavItem]] = {}
    for item in sorted(items, key=lambda i: (i.order, i.label)):
        sections.setdefault(item.section, []).append(item)
    ordered = sorted(sections.items(), key=lambda kv: SECTION_ORDER.index(kv[0]) if kv[0] in SECTION_ORDER else 99)
    return ordered
