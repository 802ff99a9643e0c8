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

    def ready(self) -> None:
        from apps.clarify import signals
        from apps.jobs.services import job_finished

        job_finished.connect(signals.on_job_finished, dispatch_uid="clarify.job_finished")
