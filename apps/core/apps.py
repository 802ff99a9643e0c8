from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"
    nav = [
        {"section": "Studio", "label": "Home", "url": "core:home", "perm": "accounts.use_studio", "order": 0},
    ]

    def ready(self) -> None:
        from apps.core import ids

        ids.register()  # `<id:pk>` in every URLconf
