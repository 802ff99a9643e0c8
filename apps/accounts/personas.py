"""Personas are Django groups; what each may do is the set of permissions listed here.

This is the one place that says what a persona may do. Modules add their capabilities here
(as `app_label.codename`) when they land; `personas_sync` applies the table to the groups.
Project membership is the other half of every check (see apps/accounts/selectors.py).
"""

from apps.accounts.choices import Persona

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

PERSONA_PERMISSIONS: dict[str, set[str]] = {
    Persona.ADMIN.value: {"*"},
    Persona.DATA_SCIENTIST.value: {USE_STUDIO, CREATE_PROJECT, RUN_JOBS, CANCEL_JOBS, MANAGE_WORKTEAMS},
    Persona.MLOPS_ENGINEER.value: {USE_STUDIO, CREATE_PROJECT, RUN_JOBS, CANCEL_JOBS, APPROVE_MODELS, DEPLOY_MODELS},
    Persona.LABELER.value: {USE_LABELING},
}


def group_name(persona: str) -> str:
    return Persona(persona).label
