from django.apps import AppConfig


class AutomlConfig(AppConfig):
    name = "apps.automl"
    label = "automl"
    verbose_name = "Canvas (AutoML)"
    nav = [
        {"section": "Build", "label": "Canvas", "url": "automl:list", "perm": "accounts.use_studio", "order": 10},
        {
            "section": "Build",
            "label": "Tuning jobs",
            "url": "automl:tuning_list",
            "perm": "accounts.use_studio",
            "order": 15,
        },
    ]

    def ready(self) -> None:
        from apps.automl import assets  # noqa: F401 - registers the AutoML asset counter
