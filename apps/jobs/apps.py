from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Jobs"
    nav = [
        {"section": "Operations", "label": "Jobs", "url": "jobs:list", "perm": "accounts.use_studio", "order": 90},
    ]

    def ready(self) -> None:
        from celery.signals import worker_process_init, worker_ready, worker_shutdown, worker_shutting_down

        from apps.jobs import assets, health, signals  # noqa: F401 - the asset counter and the worker readiness check

        worker_ready.connect(signals.on_worker_ready, dispatch_uid="jobs.worker_ready")
        worker_shutdown.connect(signals.on_worker_shutdown, dispatch_uid="jobs.worker_shutdown")
        worker_shutting_down.connect(signals.on_worker_shutting_down, dispatch_uid="jobs.worker_shutting_down")
        worker_process_init.connect(signals.on_pool_process_init, dispatch_uid="jobs.worker_process_init")
