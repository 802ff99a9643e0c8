"""Registry writes: groups, versions (from Canvas builds, tuning jobs or imported files), approval with its history,
aliases and tags. Changing approval needs personas.APPROVE_MODELS (MLOps engineers and admins)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from apps.accounts import personas
from apps.accounts.models import Project, User
from apps.core.models import Artifact
from apps.registry.choices import ApprovalStatus, ModelFormat, SourceKind
from apps.registry.models import ApprovalEvent, ModelAlias, ModelGroup, ModelVersion

NAME_RE = re.compile(r"^[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62}$")
ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
MAX_TAGS = 50
MAX_TAG_CHARS = 256
MAX_METADATA_CHARS = 64 * 1024


def clean_group_name(raw: Any) -> str:
    name = str(raw or "").strip()
    if not NAME_RE.fullmatch(name):
        raise ValidationError(
            {
                "name": f"{name!r} is not a valid model group name: use 1–63 letters, digits and "
                "hyphens, starting and ending with a letter or digit."
            }
        )
    return name


def clean_tags(raw: Any, field: str = "tags") -> dict[str, str]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError({field: "Tags must be an object of {key: value} strings."})
    if len(raw) > MAX_TAGS:
        raise ValidationError({field: f"At most {MAX_TAGS} tags."})
    out = {}
    for k, v in raw.items():
        key, value = str(k).strip(), "" if v is None else str(v)
        if not key or len(key) > 128 or len(value) > MAX_TAG_CHARS:
            raise ValidationError(
                {field: f"Tag {key[:40]!r}: keys are 1–128 characters, values at most {MAX_TAG_CHARS}."}
            )
        out[key] = value
    return out


def group_get_or_create(*, project: Project, name: Any, created_by: User | None, description: str = "") -> ModelGroup:
    clean = clean_group_name(name)
    group, _ = ModelGroup.objects.get_or_create(
        project=project, name=clean, defaults={"created_by": created_by, "description": description}
    )
    return group


def group_update(*, group: ModelGroup, description: Any = None, tags: Any = None) -> ModelGroup:
    fields = ["updated_at"]
    if description is not None:
        group.description = str(description)[:10_000]
        fields.append("description")
    if tags is not None:
        group.tags = clean_tags(tags)
        fields.append("tags")
    group.save(update_fields=fields)
    return group


def version_create(
    *,
    project: Project,
    created_by: User | None,
    group_name: Any,
    artifact: Artifact,
    fmt: str,
    source_kind: str,
    signature: dict[str, Any],
    classes: list[Any] | None = None,
    problem_type: str = "",
    target: str = "",
    metrics: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    library_versions: dict[str, Any] | None = None,
    description: str = "",
    tags: Any = None,
    metadata: dict[str, Any] | None = None,
    **lineage: Any,
) -> ModelVersion:
    """The next version of the group (created if new), pending manual approval."""
    if artifact.project_id != project.pk:
        raise ValidationError({"artifact": "The artifact belongs to another project."})
    if fmt not in ModelFormat.values or source_kind not in SourceKind.values:
        raise ValidationError({"format": f"Unknown model format {fmt!r} or source {source_kind!r}."})
    clean_tags_ = clean_tags(tags)
    with transaction.atomic():
        group = group_get_or_create(project=project, name=group_name, created_by=created_by)
        group = ModelGroup.objects.select_for_update().get(pk=group.pk)
        latest = group.versions.aggregate(n=Max("version"))["n"] or 0
        version = ModelVersion.objects.create(
            project=project,
            created_by=created_by,
            group=group,
            version=latest + 1,
            artifact=artifact,
            format=fmt,
            source_kind=source_kind,
            signature=signature,
            classes=list(classes or []),
            problem_type=problem_type,
            target=target,
            metrics=metrics or {},
            hyperparameters=hyperparameters or {},
            library_versions=library_versions or {},
            description=description,
            tags=clean_tags_,
            metadata=metadata or {},
            **lineage,
        )
        ApprovalEvent.objects.create(
            version=version,
            from_status=ApprovalStatus.PENDING,
            to_status=ApprovalStatus.PENDING,
            description="Registered.",
            created_by=created_by,
        )
        _notify_approvers(version)
    return version


def _notify_approvers(version: ModelVersion) -> None:
    """Tell the project's members who may approve (MLOps engineers, admins) that a version waits for them; not the
    person who registered it."""
    from apps.accounts.selectors import user_list_for_project_with_capability
    from apps.core.notifications import notify

    approvers = user_list_for_project_with_capability(project=version.project, capability=personas.APPROVE_MODELS)
    who = version.created_by.username if version.created_by else "Atelier"
    notify(
        user_ids=[pk for pk in approvers.values_list("pk", flat=True) if pk != version.created_by_id],
        title=f"{version} waits for approval",
        body=f"{who} registered {version} in {version.project.name}; it is pending manual approval.",
        url=reverse("registry:version", args=[version.pk]),
        level="info",
    )


def version_approval_update(*, version: ModelVersion, user: User, status: Any, description: Any = "") -> ModelVersion:
    """Approve, reject or send back to pending; recorded in the history with who, when and why."""
    if not personas.user_can(user, personas.APPROVE_MODELS):  # defensive: views declare it (accounts/permissions.py)
        raise PermissionDenied(personas.refusal_message(personas.APPROVE_MODELS))
    if status not in ApprovalStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}; use one of {', '.join(ApprovalStatus.values)}."})
    text = str(description or "").strip()[:2000]
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        previous = locked.approval_status
        locked.approval_status = status
        locked.approval_description = text
        locked.approval_by = user
        locked.approval_at = timezone.now()
        locked.save(
            update_fields=["approval_status", "approval_description", "approval_by", "approval_at", "updated_at"]
        )
        ApprovalEvent.objects.create(
            version=locked, from_status=previous, to_status=status, description=text, created_by=user
        )
    return locked


def alias_set(*, version: ModelVersion, name: Any) -> ModelAlias:
    """Point the alias (e.g. `champion`) of the version's group at this version."""
    alias = str(name or "").strip().lower()
    if not ALIAS_RE.fullmatch(alias) or alias.isdigit():
        raise ValidationError(
            {
                "alias": f"{alias!r} is not a valid alias: a lowercase letter, then letters, digits, "
                "'-' or '_' (at most 63)."
            }
        )
    obj, _ = ModelAlias.objects.update_or_create(
        group=version.group, name=alias, defaults={"version": version, "updated_at": timezone.now()}
    )
    return obj


def alias_delete(*, version: ModelVersion, name: Any) -> None:
    deleted, _ = ModelAlias.objects.filter(group=version.group, version=version, name=str(name or "")).delete()
    if not deleted:
        raise ValidationError({"alias": f"Version {version} has no alias {name!r}."})


def version_update(
    *, version: ModelVersion, description: Any = None, tags: Any = None, metadata: Any = None
) -> ModelVersion:
    fields = ["updated_at"]
    if description is not None:
        version.description = str(description)[:10_000]
        fields.append("description")
    if tags is not None:
        version.tags = clean_tags(tags)
        fields.append("tags")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise ValidationError({"metadata": "Metadata must be a JSON object."})
        if len(json.dumps(metadata, default=str)) > MAX_METADATA_CHARS:
            raise ValidationError({"metadata": f"Metadata is limited to {MAX_METADATA_CHARS:,} characters of JSON."})
        version.metadata = metadata
        fields.append("metadata")
    version.save(update_fields=fields)
    return version


# --- from Canvas ---------------------------------------------------------------------------------------------

KIND_TYPES = {
    "numeric": "double",
    "boolean": "boolean",
    "datetime": "datetime",
    "categorical": "string",
    "text": "string",
}


def _input_type(feature: dict[str, Any]) -> str:
    if feature.get("kind") == "boolean" and any(isinstance(c, str) for c in feature.get("choices") or []):
        return "string"  # trained on the user's tokens (yes/no, Y/N): sent as text (JSON true/false are read too)
    return KIND_TYPES.get(feature.get("kind", ""), "string")


def signature_from_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An MLflow-style signature from the engine's model schema."""
    inputs = [{"name": f["name"], "type": _input_type(f)} for f in schema.get("features", [])]
    regression = schema.get("problem_type") == "regression"
    return {"inputs": inputs, "outputs": [{"name": "prediction", "type": "double" if regression else "string"}]}


def version_from_canvas(
    *,
    project: Project,
    created_by: User | None,
    group_name: Any,
    artifact: Artifact,
    report: dict[str, Any],
    entry: dict[str, Any],
    candidate: str,
    target: str,
    library_versions: dict[str, Any],
    dataset_version: Any = None,
    automl_build: Any = None,
    tuning_job: Any = None,
) -> ModelVersion:
    """A Canvas candidate (or a tuning job's best trial) as the next version of a group."""
    schema = report.get("schema") or {}
    source = SourceKind.TUNING if tuning_job is not None else SourceKind.AUTOML
    return version_create(
        project=project,
        created_by=created_by,
        group_name=group_name,
        artifact=artifact,
        fmt=ModelFormat.ATELIER,
        source_kind=source,
        signature=signature_from_schema(schema),
        classes=list(schema.get("classes") or []),
        problem_type=report.get("problem_type", ""),
        target=target,
        metrics=entry.get("metrics") or {},
        hyperparameters=entry.get("params") or {},
        library_versions=library_versions,
        candidate=candidate,
        metadata={"objective": report.get("objective"), "validation": report.get("validation")},
        dataset_version=dataset_version,
        automl_build=automl_build,
        tuning_job=tuning_job,
    )


# --- native code for forests (apps/registry/native.py; docs/adr/0003-native-forests.md) ----------------------------


COMPILE_KIND = "registry.compile_forests"


def version_forests_compile_request(*, version: ModelVersion) -> bool:
    """Ask a worker to compile the version's forests (serving processes never run the compiler). One job at a time
    per version: True when a job was started."""
    from apps.jobs.choices import JobStatus
    from apps.jobs.models import Job
    from apps.jobs.services import job_start

    active = Job.objects.filter(
        kind=COMPILE_KIND, params__version=version.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    )
    if active.exists():
        return False
    job_start(
        kind=COMPILE_KIND,
        project=version.project,
        created_by=None,
        params={"version": version.pk},
        title=f"Compile the forests of {version} to native code",
    )
    return True


def version_forests_compile(ctx: Any) -> dict[str, Any]:
    """The job: compile each forest of the version into this machine's cache (SERVING_NATIVE_DIR), where serving
    processes on this machine pick it up."""
    from apps.jobs.runtime import JobError
    from apps.registry import native
    from apps.registry.loading import forests_of, load_version

    version = ModelVersion.objects.filter(pk=ctx.params.get("version")).first()
    if version is None:
        raise JobError("The model version was deleted before its forests were compiled.")
    forests = forests_of(load_version(version, native_code=False))
    done: list[str] = []
    for number, forest in enumerate(forests, start=1):
        ctx.progress((number - 1) / max(1, len(forests)), f"Compiling forest {number} of {len(forests)}")
        try:
            native.build(forest.trees, forest.leaves, int(forest.n_features_in_))
            done.append("compiled")
        except native.NativeUnavailable as exc:
            done.append(str(exc))
    ctx.final_message = f"{len(forests)} forest(s): {', '.join(sorted(set(done))) or 'none to compile'}."
    return {"version": version.pk, "forests": len(forests), "statuses": done}
