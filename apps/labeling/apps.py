from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "apps.labeling"
    label = "labeling"
    verbose_name = "Ground Truth"
    nav: list[dict] = [  # the pages add their entries (views/studio.py: "Labeling jobs"; views/work.py: "My work")
        {
            "section": "Labeling",
            "label": "Labeling jobs",
            "url": "labeling:list",
            "perm": "accounts.use_studio",
            "order": 79,
        },
    ]
