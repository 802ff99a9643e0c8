from django.apps import AppConfig


class UnsupervisedConfig(AppConfig):
    name = "apps.unsupervised"
    label = "unsupervised"
    verbose_name = "Built-in algorithms"
    nav = [
        {
            "section": "Build",
            "label": "Unsupervised",
            "url": "unsupervised:list",
            "perm": "accounts.use_studio",
            "order": 20,
        },
    ]
