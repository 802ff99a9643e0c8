"""Export a model version as an MLflow model directory (zipped) that `mlflow models serve` can serve.

    <group>-v<N>/
      MLmodel              python_function flavor: loader_module atelier_pyfunc, code: code, data: model; signature
      model/model.<ext>    the verified artifact (joblib for atelier, skops, onnx)
      model/atelier.json   format, file name and SHA-256, input columns, classes, trusted skops types, lineage
      code/atelier_pyfunc.py          apps/registry/mlflow_pyfunc.py
      code/apps/automl/engine/*.py    the Canvas engine (atelier format only; plain Python)
      requirements.txt  python_env.yaml  conda.yaml

The artifact's SHA-256 and HMAC are checked while it is copied (ArtifactTampered otherwise); a skops file is checked
against the allowlist again (UnsafeModel).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import shutil
import tempfile
import uuid
import zipfile
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import yaml
from django.conf import settings
from django.utils import timezone
from django.utils.text import slugify

from apps.core.artifacts import artifact_local_copy
from apps.registry import skopsfile
from apps.registry.choices import ModelFormat
from apps.registry.loading import UnsafeModel, skops_untrusted
from apps.registry.models import ModelVersion

LOADER_MODULE = "atelier_pyfunc"
APPS_DIR = Path(__file__).resolve().parent.parent  # apps/
MODEL_FILES = {ModelFormat.ATELIER: "model.joblib", ModelFormat.SKOPS: "model.skops", ModelFormat.ONNX: "model.onnx"}
REQUIREMENTS = {
    ModelFormat.ATELIER: (
        "scikit-learn",
        "lightgbm",
        "pandas",
        "numpy",
        "scipy",
        "joblib",
        "optuna",
        "threadpoolctl",
        "fairlearn",  # Canvas models trained under a fairness constraint (apps/automl/engine/fair.py)
    ),
    ModelFormat.SKOPS: ("skops", "scikit-learn", "pandas", "numpy", "scipy"),
    ModelFormat.ONNX: ("onnxruntime", "pandas", "numpy"),
}
MLFLOW_TYPES = {"double", "float", "integer", "long", "boolean", "string", "datetime", "binary"}


def export_name(version: ModelVersion) -> str:
    return f"{slugify(version.group.name) or 'model'}-v{version.version}"


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def requirements(version: ModelVersion) -> list[str]:
    """Pinned: the versions recorded with the model version, else those installed here."""
    recorded = version.library_versions or {}
    lines = []
    mlflow_version = _installed("mlflow") or _installed("mlflow-skinny")
    lines.append(f"mlflow=={mlflow_version}" if mlflow_version else "mlflow")
    for name in REQUIREMENTS[ModelFormat(version.format)]:
        pinned = recorded.get(name) or _installed(name)
        lines.append(f"{name}=={pinned}" if pinned else name)
    return lines


def _colspec(spec: dict[str, Any]) -> dict[str, Any]:
    kind = str(spec.get("type") or "string")
    return {"type": kind if kind in MLFLOW_TYPES else "string", "name": str(spec["name"]), "required": True}


def mlmodel(version: ModelVersion, *, sha256: str) -> dict[str, Any]:
    signature = version.signature or {}
    python = platform.python_version()
    return {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "loader_module": LOADER_MODULE,
                "code": "code",
                "data": "model",
                "python_version": python,
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
            }
        },
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": timezone.now().strftime("%Y-%m-%d %H:%M:%S.%f"),
        "signature": {
            "inputs": json.dumps([_colspec(s) for s in signature.get("inputs") or []]),
            "outputs": json.dumps([_colspec(s) for s in signature.get("outputs") or []]),
            "params": None,
        },
        "metadata": {
            "atelier_model_group": version.group.name,
            "atelier_version": version.version,
            "atelier_approval_status": str(version.approval_status),
            "atelier_format": str(version.format),
            "sha256": sha256,
        },
    }


def _meta(version: ModelVersion, *, sha256: str, trusted: list[str]) -> dict[str, Any]:
    return {
        "format": str(version.format),
        "model_file": MODEL_FILES[ModelFormat(version.format)],
        "sha256": sha256,
        "inputs": (version.signature or {}).get("inputs") or [],
        "classes": list(version.classes or []),
        "problem_type": str(version.problem_type),
        "target": version.target,
        "trusted_types": trusted,
        "model_group": version.group.name,
        "version": version.version,
        "approval_status": str(version.approval_status),
        "lineage": {
            "dataset_version": version.dataset_version_id,
            "automl_build": version.automl_build_id,
            "tuning_job": version.tuning_job_id,
            "candidate": version.candidate,
            "source": str(version.source_kind),
        },
    }


def _copy_engine(code: Path) -> None:
    """apps/__init__.py, apps/automl/__init__.py and apps/automl/engine/*.py: the engine needs nothing else."""
    engine = code / "apps" / "automl" / "engine"
    engine.mkdir(parents=True)
    shutil.copyfile(APPS_DIR / "__init__.py", code / "apps" / "__init__.py")
    shutil.copyfile(APPS_DIR / "automl" / "__init__.py", code / "apps" / "automl" / "__init__.py")
    for source in sorted((APPS_DIR / "automl" / "engine").glob("*.py")):
        shutil.copyfile(source, engine / source.name)


def export_mlflow_dir(*, version: ModelVersion, target: Path) -> Path:
    """Write the MLflow model directory for `version` into `target` (created; must not exist)."""
    target.mkdir(parents=True)
    data, code = target / "model", target / "code"
    data.mkdir()
    code.mkdir()
    model_file = data / MODEL_FILES[ModelFormat(version.format)]
    with artifact_local_copy(version.artifact) as verified:
        shutil.copyfile(verified, model_file)
    trusted: list[str] = []
    if version.format == ModelFormat.SKOPS:
        untrusted = skops_untrusted(str(model_file))
        if untrusted:
            raise UnsafeModel(untrusted)
        trusted = skopsfile.untrusted_types(str(model_file))
    sha256 = hashlib.sha256(model_file.read_bytes()).hexdigest()
    (data / "atelier.json").write_text(json.dumps(_meta(version, sha256=sha256, trusted=trusted), indent=2) + "\n")
    shutil.copyfile(Path(__file__).with_name("mlflow_pyfunc.py"), code / f"{LOADER_MODULE}.py")
    if version.format == ModelFormat.ATELIER:
        _copy_engine(code)
    reqs = requirements(version)
    python = platform.python_version()
    (target / "requirements.txt").write_text("\n".join(reqs) + "\n")
    (target / "python_env.yaml").write_text(
        yaml.safe_dump(
            {"python": python, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]}, sort_keys=False
        )
    )
    (target / "conda.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "mlflow-env",
                "channels": ["conda-forge"],
                "dependencies": [f"python={python}", "pip", {"pip": reqs}],
            },
            sort_keys=False,
        )
    )
    (target / "MLmodel").write_text(yaml.safe_dump(mlmodel(version, sha256=sha256), sort_keys=False))
    return target


def version_export_mlflow(*, version: ModelVersion) -> IO[bytes]:
    """The MLflow model directory as a ZIP in an anonymous temp file (deleted when closed), positioned at 0."""
    name = export_name(version)
    work = Path(tempfile.mkdtemp(prefix="registry-export-", dir=settings.FILE_UPLOAD_TEMP_DIR))
    try:
        root = export_mlflow_dir(version=version, target=work / name)
        archive = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)
        try:
            with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(root.rglob("*")):
                    if path.is_file():
                        zf.write(path, f"{name}/{path.relative_to(root).as_posix()}")
        except BaseException:
            archive.close()
            raise
        archive.seek(0)
        return archive
    finally:
        with suppress(OSError):
            shutil.rmtree(work)
