from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "apps.labeling"
    label = "labeling"
    verbose_name = "Ground Truth"
    # the pages add their entries (views/studio.py: "Labeling jobs"; views/work.py: "My work")
    nav: list[dict] = [
        {
            "section": "Labeling",
            "label": "My work",
            "url": "labeling:my_work",
            "perm": "accounts.use_labeling",
            "order": 80,
        },
        {
            "section": "Labeling",
            "label": "Labeling jobs",
            "url": "labeling:list",
            "perm": "accounts.use_studio",
            "order": 79,
        },
    ]
