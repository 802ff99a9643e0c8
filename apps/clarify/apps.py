from django.apps import AppConfig


class ClarifyConfig(AppConfig):
    name = "apps.clarify"
    label = "clarify"
    verbose_name = "Clarify"
