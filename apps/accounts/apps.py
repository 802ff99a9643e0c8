from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and projects"
    nav = [
        {
            "section": "Studio",
            "label": "Projects",
            "url": "accounts:project_list",
            "perm": "accounts.use_studio",
            "order": 1,
        },
        {
            "section": "Labeling",
            "label": "Work teams",
            "url": "accounts:workteam_list",
            "perm": "accounts.use_studio",
            "order": 81,
        },
        {
            "section": "Administration",
            "label": "Invitations",
            "url": "accounts:invitation_list",
            "admin_only": True,
            "order": 95,
        },
        {"section": "Administration", "label": "Console", "url": "admin:index", "admin_only": True, "order": 99},
    ]

    def ready(self) -> None:
        from apps.accounts import schema  # noqa: F401 - registers the OpenAPI auth extension
        from apps.accounts.services import personas_sync_after_migrate

        # Persona groups and their permissions are (re)built after every migrate, once all
        # permissions exist. Idempotent; adding a capability to personas.py is all a module does.
        post_migrate.connect(personas_sync_after_migrate, dispatch_uid="accounts.personas_sync")
