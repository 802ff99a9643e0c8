from django.apps import AppConfig


class EndpointsConfig(AppConfig):
    name = "apps.endpoints"
    label = "endpoints"
    verbose_name = "Endpoints"
    nav = [
        {
            "section": "Deploy",
            "label": "Endpoints",
            "url": "endpoints:list",
            "perm": "accounts.use_studio",
            "order": 20,
        },
        {
            "section": "Deploy",
            "label": "Batch transform",
            "url": "endpoints:batch_list",
            "perm": "accounts.use_studio",
            "order": 30,
        },
    ]
