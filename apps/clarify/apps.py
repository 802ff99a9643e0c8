from django.apps import AppConfig


class ClarifyConfig(AppConfig):
    name = "apps.clarify"
    label = "clarify"
    verbose_name = "Clarify"
    nav = [
        {
            "section": "Build",
            "label": "Clarify",
            "url": "clarify:list",
            "perm": "accounts.use_studio",
            "order": 30,
        },
    ]
