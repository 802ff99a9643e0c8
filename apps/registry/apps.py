from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "apps.registry"
    label = "registry"
    verbose_name = "Model Registry"
    nav = [
        {"section": "Deploy", "label": "Model Registry", "url": "registry:list", "perm": "accounts.use_studio",
         "order": 10},
    ]

    def ready(self) -> None:
        from apps.registry import assets  # noqa: F401 - registers the registry's asset counter
