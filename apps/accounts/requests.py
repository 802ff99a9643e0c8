"""Helpers every view and API view uses: the signed-in user, typed, the current project. (Persona checks are
declared on the views: apps/accounts/permissions.py.)"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import Project, User


def request_user(request: Any) -> User:
    """The signed-in user (the studio mixins and API permissions rule out anonymous requests first)."""
    return cast(User, request.user)


def request_project(request: Any) -> Project | None:
    """The project the user works in (the project switcher's choice, apps/core/middleware.py), or None if they are a
    member of none."""
    project = getattr(request, "project", None)
    return project if project else None  # the lazy object, resolved: None stays None


def required_project(request: Any) -> Project:
    """The project the user works in; 403 "Choose a project first." when they are a member of none (a page that
    writes into a project cannot do without one)."""
    project = request_project(request)
    if project is None:
        raise PermissionDenied("Choose a project first.")
    return project


def project_follow(request: Any, project_id: int) -> None:
    """Make `project_id` the project the user works in, as the project switcher would, when a link leads to one of
    their objects in another project (the registry's Deploy button, a dataset's "Build a model"): the form it opens
    then lists that object. Only the user's own projects (a member's, or any for an admin) are followed."""
    current = request_project(request)
    if current is not None and current.pk == project_id:
        return
    from apps.accounts.selectors import project_list_for_user

    project = project_list_for_user(user=request.user).filter(pk=project_id).first()
    if project is not None:
        project_choose(request, project)


def project_choose(request: Any, project: Any) -> None:
    """Make `project` the one the user works in from this request on (the session remembers it)."""
    from apps.accounts.middleware import SESSION_KEY

    request.session[SESSION_KEY] = project.pk
    request.project = project


# Keys a service adds for programs beside the message (the API shows them; pages do not): a refusal's stable code and
# the archive member at fault (apps/core/archives.py).
MACHINE_KEYS = ("code", "member")


def validation_messages(
    exc: ValidationError, *, bare: tuple[str, ...] = ("__all__",), skip: tuple[str, ...] = ()
) -> list[str]:
    """A ValidationError as lines for a page: `field: message`, or the bare message for the fields in `bare`
    (their messages already name what is wrong); fields in `skip` are left out."""
    if hasattr(exc, "error_dict"):
        return [
            m if k in bare else f"{k}: {m}"
            for k, v in exc.message_dict.items()
            if k not in skip and k not in MACHINE_KEYS
            for m in v
        ]
    return list(exc.messages)


def form_add_errors(form: Any, exc: ValidationError, *, skip: tuple[str, ...] = ()) -> None:
    """A service's ValidationError onto a bound form: each field's messages on that field when the form has it, on
    the form as a whole otherwise; fields in `skip` are left out (shown another way)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field not in skip and field not in MACHINE_KEYS:
                form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
