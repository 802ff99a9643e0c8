from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The signed-in shell around every module: the home page, navigation, notifications, the project switcher's
    context, the API root and schema pages, health and error pages. It sits on top of core, accounts and jobs."""

    name = "apps.workspace"
    label = "workspace"
    verbose_name = "Workspace"
    nav = [
        {"section": "Studio", "label": "Home", "url": "workspace:home", "perm": "accounts.use_studio", "order": 0},
    ]
