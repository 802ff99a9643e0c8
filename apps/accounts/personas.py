"""Personas are Django groups; what each may do is the set of permissions listed here.

This is the one place that says what a persona may do. Modules add their capabilities here
(as `app_label.codename`) when they land; `personas_sync` applies the table to the groups.
Project membership is the other half of every check (see apps/accounts/selectors.py).

`user_can(user, capability)` is the one question every check asks (views, API views and the WebSocket consumer
through their declarations, apps/accounts/permissions.py; services' defensive checks and the pages' `can_*` flags
directly). It reads the groups' permissions, which this table fills: a role is data (a group and its permissions),
so a role added later (custom roles edited in the UI) is honoured everywhere without code.
"""

from __future__ import annotations

from typing import Any

from apps.accounts.choices import Persona

# Declarations that are not capabilities of the table (apps/accounts/permissions.py):
PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any signed-in user, whatever their personas
ADMIN = "admin"  # admins only (superusers: the Admin persona)

# Capabilities (custom permissions declared on accounts.Project's Meta):
USE_STUDIO = "accounts.use_studio"  # reach the studio modules (data, models, endpoints, jobs)
USE_LABELING = "accounts.use_labeling"  # reach the labeling work queue
CREATE_PROJECT = "accounts.add_project"
MANAGE_MEMBERS = "accounts.manage_members"
MANAGE_WORKTEAMS = "accounts.manage_workteams"
RUN_JOBS = "jobs.add_job"
CANCEL_JOBS = "jobs.cancel_job"
APPROVE_MODELS = "registry.approve_modelversion"  # approve or reject model versions
DEPLOY_MODELS = "registry.deploy_modelversion"  # create and update endpoints and their keys
MANAGE_LABELING = "labeling.manage_labelingjob"  # create, review and export labeling jobs

PERSONA_PERMISSIONS: dict[str, set[str]] = {
    Persona.ADMIN.value: {"*"},
    Persona.DATA_SCIENTIST.value: {
        USE_STUDIO,
        CREATE_PROJECT,
        RUN_JOBS,
        CANCEL_JOBS,
        MANAGE_WORKTEAMS,
        MANAGE_LABELING,
    },
    Persona.MLOPS_ENGINEER.value: {USE_STUDIO, CREATE_PROJECT, RUN_JOBS, CANCEL_JOBS, APPROVE_MODELS, DEPLOY_MODELS},
    Persona.LABELER.value: {USE_LABELING},
}


# What a refusal says, per capability (others: PERSONA_REFUSED).
PERSONA_REFUSED = "Your persona does not allow this action."
REFUSALS: dict[str, str] = {
    ADMIN: "Only admins may do this.",
    CREATE_PROJECT: "Your persona may not create projects.",
    MANAGE_WORKTEAMS: "Your persona may not manage work teams.",
    RUN_JOBS: "Your persona does not allow starting jobs.",
    APPROVE_MODELS: "Your persona does not allow approving or rejecting model versions.",
    DEPLOY_MODELS: "Your persona does not allow deploying models or managing endpoint keys.",
    MANAGE_LABELING: "Your persona may not create, review or export labeling jobs.",
}


def user_can(user: Any, capability: str) -> bool:
    """May `user` do what `capability` names? A capability of the table (held through a persona group), or one of
    PUBLIC, SIGNED_IN, ADMIN. Anonymous and inactive users hold nothing but PUBLIC."""
    if capability == PUBLIC:
        return True
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if capability == SIGNED_IN:
        return True
    if capability == ADMIN:
        return bool(user.is_admin)
    return bool(user.has_perm(capability))


def refusal_message(capability: str) -> str:
    return REFUSALS.get(capability, PERSONA_REFUSED)


def group_name(persona: str) -> str:
    return Persona(persona).label
