from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "apps.datasets"
    label = "datasets"
    verbose_name = "Data Wrangler"
    nav = [
        {
            "section": "Data",
            "label": "Data Wrangler",
            "url": "datasets:list",
            "perm": "accounts.use_studio",
            "order": 10,
        },
        {"section": "Data", "label": "SQL", "url": "datasets:sql", "perm": "accounts.use_studio", "order": 20},
        {"section": "Data", "label": "Flows", "url": "datasets:flow_list", "perm": "accounts.use_studio", "order": 30},
    ]

    def ready(self) -> None:
        from apps.datasets import assets  # noqa: F401 - registers the datasets asset counter
