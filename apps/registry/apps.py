from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "apps.registry"
    label = "registry"
    verbose_name = "Model Registry"
    nav = [
        {
            "section": "Deploy",
            "label": "Model Registry",
            "url": "registry:list",
            "perm": "accounts.use_studio",
            "order": 10,
        },
    ]

    def ready(self) -> None:
        from celery.signals import worker_process_init

        from apps.registry import assets  # noqa: F401 - registers the registry's asset counter

        worker_process_init.connect(_worker_role, dispatch_uid="registry.native_role")


def _worker_role(**kwargs: object) -> None:
    """A Celery pool process may compile forests and run compiled code (apps/registry/native.py)."""
    from apps.registry import native

    native.set_role(native.ROLE_WORKER)
