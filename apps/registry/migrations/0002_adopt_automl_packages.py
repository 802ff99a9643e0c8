"""Canvas's model packages (automl.AutomlModelPackage, recorded before the registry existed) become registry
versions: same artifact, metrics, parameters and lineage, pending manual approval."""

import re

from django.db import migrations

KIND_TYPES = {"numeric": "double", "boolean": "boolean", "datetime": "datetime", "categorical": "string",
              "text": "string"}


def _group_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:63].strip("-")
    return clean or "model"


def adopt(apps, schema_editor):  # type: ignore[no-untyped-def]
    Package = apps.get_model("automl", "AutomlModelPackage")
    ModelGroup = apps.get_model("registry", "ModelGroup")
    ModelVersion = apps.get_model("registry", "ModelVersion")
    ApprovalEvent = apps.get_model("registry", "ApprovalEvent")
    for p in Package.objects.order_by("created_at", "pk"):
        group, _ = ModelGroup.objects.get_or_create(project_id=p.project_id, name=_group_name(p.name),
                                                    defaults={"created_by_id": p.created_by_id})
        number = (group.versions.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        schema = p.schema or {}
        regression = p.problem_type == "regression"
        signature = {"inputs": [{"name": f["name"], "type": KIND_TYPES.get(f.get("kind", ""), "string")}
                                for f in schema.get("features", [])],
                     "outputs": [{"name": "prediction", "type": "double" if regression else "string"}]}
        version = ModelVersion.objects.create(
            project_id=p.project_id, created_by_id=p.created_by_id, group=group, version=number,
            artifact_id=p.artifact_id, format="atelier", source_kind="automl", candidate=p.candidate,
            problem_type=p.problem_type, target=p.target, signature=signature, classes=schema.get("classes") or [],
            metrics=p.metrics, hyperparameters=p.parameters, library_versions=p.library_versions,
            metadata={"objective": p.objective, "adopted_from_package": p.pk},
            dataset_version_id=p.training_dataset_version_id, automl_build_id=p.build_id, created_at=p.created_at,
        )
        ApprovalEvent.objects.create(version=version, from_status="PendingManualApproval",
                                     to_status="PendingManualApproval", description="Registered.",
                                     created_by_id=p.created_by_id, created_at=p.created_at)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
        ("automl", "0002_tuning_and_candidates"),
    ]

    operations = [migrations.RunPython(adopt, migrations.RunPython.noop)]
