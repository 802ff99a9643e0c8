"""Importing a model made elsewhere: a skops file or an ONNX model, never a pickle.

The upload is copied to a temp file under our own cap (settings.REGISTRY_MAX_IMPORT_BYTES) and its format is told
by its content, not its name:

* a ZIP archive holding skops' `schema.json` is a skops file. Its types are read from the schema without loading
  anything; a type that neither skops trusts by default nor settings.REGISTRY_SKOPS_TRUSTED_TYPES admits refuses the
  file, naming the types. Otherwise it is loaded once (with exactly those types trusted) to validate it and to read
  the input columns (`feature_names_in_`) and classes (`classes_`).
* an ONNX protobuf that `onnx.checker` accepts and onnxruntime can open is an ONNX model. Tensors stored as external
  data (a path next to the model file) are refused: a model names no file outside itself.
* anything else (pickle, joblib, cloudpickle, torch archives, random bytes) is refused unread: nothing here ever
  unpickles.

The file is then stored as a signed artifact (kind "registry.model") and becomes the next version of its group.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from apps.accounts.models import Project, User
from apps.core.archives import ArchiveError, is_zip, open_zip
from apps.core.artifacts import artifact_store
from apps.core.storage import storage
from apps.core.tempfiles import temp_path
from apps.registry import skopsfile
from apps.registry.choices import ModelFormat, SourceKind
from apps.registry.loading import skops_untrusted
from apps.registry.models import ModelVersion
from apps.registry.services import clean_group_name, clean_tags, version_create
from apps.registry.skopsfile import SkopsError

ARTIFACT_KIND = "registry.model"
CHUNK = 1 << 20
SIGNATURE_TYPES = ("double", "float", "integer", "long", "boolean", "string", "datetime")
PROBLEM_TYPES = ("binary", "multiclass", "regression")
MAX_COLUMNS = 10_000
NOT_A_MODEL = (
    "The file is not a skops or ONNX file; pickles are never loaded. Export scikit-learn models with "
    "skops.io.dump, or convert them to ONNX (skl2onnx)."
)


class ImportTooLarge(ValidationError):
    """The file is larger than REGISTRY_MAX_IMPORT_BYTES (the views answer 413)."""


def max_import_bytes() -> int:
    return int(settings.REGISTRY_MAX_IMPORT_BYTES)


def too_large_message(limit: int) -> str:
    return f"The model file is larger than the limit of {limit:,} bytes set by REGISTRY_MAX_IMPORT_BYTES."


@dataclass
class Inspected:
    """What an import learned from the file."""

    fmt: str
    inputs: list[dict[str, Any]] | None  # None: the file does not name its columns
    n_inputs: int | None = None
    classes: list[Any] = field(default_factory=list)
    problem_type: str = ""
    libraries: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


# --- the upload on disk -------------------------------------------------------------------------------------


def _chunks(uploaded: Any) -> Iterable[bytes]:
    if hasattr(uploaded, "chunks"):
        return uploaded.chunks(CHUNK)
    return iter(lambda: uploaded.read(CHUNK), b"")


@contextmanager
def upload_on_disk(uploaded: Any, *, max_bytes: int | None = None) -> Iterator[Path]:
    """The upload copied to a temp file (removed afterwards), refused past the cap while it is copied."""
    limit = max_import_bytes() if max_bytes is None else max_bytes
    with temp_path(prefix="registry-import-") as name:
        size = 0
        with open(name, "wb") as out:
            for chunk in _chunks(uploaded):
                size += len(chunk)
                if size > limit:
                    raise ImportTooLarge({"file": too_large_message(limit)})
                out.write(chunk)
        if size == 0:
            raise ValidationError({"file": "The file is empty."})
        yield Path(name)


# --- format detection ---------------------------------------------------------------------------------------


def refusal(exc: ArchiveError | SkopsError) -> ValidationError:
    """The 400 for an archive or a skops file we do not read: the message, its code and the member at fault."""
    errors: dict[str, Any] = {"file": exc.message, "code": exc.code}
    if getattr(exc, "member", None):
        errors["member"] = exc.member  # type: ignore[union-attr]
    return ValidationError(errors)


def _is_skops(path: Path) -> bool:
    """A zip archive (checked by the archive guard first: a bomb is refused whatever it holds) with schema.json."""
    if not is_zip(path):
        return False
    try:
        with open_zip(path, skopsfile.limits()) as archive:
            return skopsfile.SCHEMA in archive.NameToInfo
    except ArchiveError as exc:
        raise refusal(exc) from exc


def _onnx_model(path: Path) -> Any | None:
    """The parsed ONNX model, or None when the bytes are not a valid ONNX model."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is in requirements.txt
        return None
    try:
        model = onnx.load_model(str(path), format="protobuf", load_external_data=False)
    except Exception:  # noqa: BLE001 - any parse failure means "not an ONNX model"
        return None
    if not model.ir_version or not model.graph.node:
        return None
    _refuse_external_data(model)
    try:
        onnx.checker.check_model(model)
    except Exception:  # noqa: BLE001 - a model the checker refuses is not one we load
        return None
    return model


def detect_format(path: Path) -> tuple[str, Any]:
    """(ModelFormat, parsed ONNX model or None) by content; ValidationError for anything else."""
    if _is_skops(path):
        return ModelFormat.SKOPS, None
    model = _onnx_model(path)
    if model is not None:
        return ModelFormat.ONNX, model
    raise ValidationError({"file": NOT_A_MODEL})


# --- signatures from the request ----------------------------------------------------------------------------


def clean_signature(raw: Any) -> list[dict[str, str]] | None:
    """Input columns from the request: `{"inputs": [{name, type}]}` or the list itself (JSON text or data)."""
    if raw in (None, "", {}, []):
        return None
    if isinstance(raw, str):
        import json

        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValidationError({"signature": f"The signature is not valid JSON: {exc}."}) from exc
    inputs = raw.get("inputs") if isinstance(raw, dict) else raw
    if not isinstance(inputs, list) or not inputs:
        raise ValidationError({"signature": 'Give the input columns as {"inputs": [{"name": ..., "type": ...}]}.'})
    if len(inputs) > MAX_COLUMNS:
        raise ValidationError({"signature": f"At most {MAX_COLUMNS:,} input columns."})
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, spec in enumerate(inputs):
        if isinstance(spec, str):
            spec = {"name": spec, "type": "double"}
        if not isinstance(spec, dict):
            raise ValidationError({"signature": f"Input {i + 1} must be an object with a name and a type."})
        name, kind = str(spec.get("name") or "").strip(), str(spec.get("type") or "double").strip().lower()
        if not name or len(name) > 300:
            raise ValidationError({"signature": f"Input {i + 1}: a column name of 1–300 characters is required."})
        if name in seen:
            raise ValidationError({"signature": f"Column {name!r} is named twice."})
        if kind not in SIGNATURE_TYPES:
            raise ValidationError(
                {"signature": f"Column {name!r}: unknown type {kind!r}; use one of {', '.join(SIGNATURE_TYPES)}."}
            )
        seen.add(name)
        out.append({"name": name, "type": kind})
    return out


def clean_classes(raw: Any) -> list[Any] | None:
    if raw in (None, "", []):
        return None
    if isinstance(raw, str):
        import json

        try:
            raw = json.loads(raw) if raw.strip().startswith("[") else [c.strip() for c in raw.split(",")]
        except ValueError as exc:
            raise ValidationError({"classes": f"The classes are not valid JSON: {exc}."}) from exc
    if not isinstance(raw, list) or not all(isinstance(c, str | int | bool) for c in raw) or len(raw) > 10_000:
        raise ValidationError({"classes": "Classes must be a list of strings or whole numbers."})
    return list(raw)


def clean_problem_type(raw: Any) -> str:
    value = str(raw or "").strip().lower()
    if value and value not in PROBLEM_TYPES:
        raise ValidationError(
            {"problem_type": f"Unknown problem type {value!r}; use one of {', '.join(PROBLEM_TYPES)}."}
        )
    return value


# --- skops --------------------------------------------------------------------------------------------------


def _python(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _skops_input_types(estimator: Any, names: list[str]) -> dict[str, str]:
    """Columns an encoder of a leading ColumnTransformer reads as labels are "string" (passed as they are);
    every other column is "double"."""
    types = dict.fromkeys(names, "double")
    first = estimator.steps[0][1] if hasattr(estimator, "steps") and estimator.steps else estimator
    for _, transformer, columns in getattr(first, "transformers_", []) or []:
        categories = getattr(transformer, "categories_", None)
        if categories is None and hasattr(transformer, "steps"):
            categories = next(
                (
                    getattr(s, "categories_", None)
                    for _, s in transformer.steps
                    if getattr(s, "categories_", None) is not None
                ),
                None,
            )
        if categories is None or isinstance(columns, str | slice) or callable(columns):
            continue
        for column, cats in zip(list(columns), categories, strict=False):
            name = names[column] if isinstance(column, int) and column < len(names) else str(column)
            if name in types:
                types[name] = (
                    "double" if getattr(cats, "dtype", None) is not None and cats.dtype.kind in "iufb" else "string"
                )
    return types


def inspect_skops(path: Path) -> Inspected:
    try:
        return _inspect_skops(path)
    except (ArchiveError, SkopsError) as exc:
        raise refusal(exc) from exc


def _inspect_skops(path: Path) -> Inspected:
    untrusted = skops_untrusted(str(path))
    if untrusted:
        raise ValidationError(
            {
                "file": f"The skops file uses types that are not on the allowlist, so it is not loaded: "
                f"{', '.join(untrusted)}. Convert the model to ONNX, or ask an admin to review these types "
                "(REGISTRY_SKOPS_TRUSTED_TYPES).",
                "untrusted_types": untrusted,
            }
        )
    trusted = skopsfile.untrusted_types(path)
    estimator = skopsfile.load(path, trusted)
    if not hasattr(estimator, "predict"):
        raise ValidationError(
            {"file": f"The skops file holds a {type(estimator).__name__}, not a model with predict()."}
        )
    names = getattr(estimator, "feature_names_in_", None)
    inputs = None
    if names is not None:
        names = [str(n) for n in names]
        types = _skops_input_types(estimator, names)
        inputs = [{"name": n, "type": types[n]} for n in names]
    classes = [_python(c) for c in getattr(estimator, "classes_", [])]
    problem = ("binary" if len(classes) == 2 else "multiclass") if classes else "regression"
    return Inspected(
        fmt=ModelFormat.SKOPS,
        inputs=inputs,
        n_inputs=getattr(estimator, "n_features_in_", None),
        classes=classes,
        problem_type=problem,
        libraries=_versions("skops", "scikit-learn"),
        metadata={"estimator": type(estimator).__name__, "trusted_types": trusted},
    )


# --- ONNX ---------------------------------------------------------------------------------------------------


def _tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _attribute_tensors(node)


def _attribute_tensors(node: Any) -> Iterator[Any]:
    for attribute in node.attribute:
        if attribute.HasField("t"):
            yield attribute.t
        yield from attribute.tensors
        if attribute.HasField("sparse_tensor"):
            yield attribute.sparse_tensor.values
        if attribute.HasField("g"):
            yield from _tensors(attribute.g)
        for sub in attribute.graphs:
            yield from _tensors(sub)


ONNX_TYPES = {
    1: "float",
    11: "double",
    6: "integer",
    7: "long",
    9: "boolean",
    8: "string",
    10: "float",
    2: "integer",
    3: "integer",
    4: "integer",
    5: "integer",
    12: "long",
    13: "long",
}


def _class_labels(model: Any) -> list[Any]:
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name == "classlabels_strings" and attribute.strings:
                return [s.decode() for s in attribute.strings]
            if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                return list(attribute.ints)
    return []


def _refuse_external_data(model: Any) -> None:
    """A tensor stored as external data names a file path next to the model: refused, whatever the path."""
    import onnx

    functions_tensors = (t for f in model.functions for n in f.node for t in _attribute_tensors(n))
    for tensor in (*_tensors(model.graph), *functions_tensors):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise ValidationError(
                {
                    "file": "The ONNX model keeps tensors in external files; only self-contained "
                    "models are imported (save it with save_as_external_data=False)."
                }
            )


def inspect_onnx(path: Path, model: Any) -> Inspected:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ValidationError({"file": f"onnxruntime cannot load this model: {exc}"}) from exc
    graph_inputs = session.get_inputs()
    inputs, n_inputs = None, None
    initializers = {t.name for t in model.graph.initializer}
    declared = [i for i in model.graph.input if i.name not in initializers]
    if len(graph_inputs) > 1:  # one input per column (skl2onnx with named columns)
        by_name = {i.name: i for i in declared}
        inputs = []
        for i in graph_inputs:
            elem = by_name[i.name].type.tensor_type.elem_type if i.name in by_name else 1
            inputs.append({"name": i.name, "type": ONNX_TYPES.get(elem, "string")})
    elif graph_inputs:
        shape = graph_inputs[0].shape
        n_inputs = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
    classes = _class_labels(model)
    problem = ("binary" if len(classes) == 2 else "multiclass") if classes else ""
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    return Inspected(
        fmt=ModelFormat.ONNX,
        inputs=inputs,
        n_inputs=n_inputs,
        classes=classes,
        problem_type=problem,
        libraries=_versions("onnx", "onnxruntime"),
        metadata={
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "opsets": opsets,
            "ir_version": model.ir_version,
        },
    )


# --- the import ---------------------------------------------------------------------------------------------


def _versions(*names: str) -> dict[str, str]:
    out = {}
    for name in names:
        with suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def _signature(found: Inspected, given: list[dict[str, str]] | None) -> list[dict[str, str]]:
    """The file's own columns win; a signature from the request must then name the same columns (its types are
    used). A file that does not name its columns needs the request's signature, with as many columns as it reads."""
    if found.inputs is not None:
        if given is None:
            return found.inputs
        if [g["name"] for g in given] != [f["name"] for f in found.inputs]:
            raise ValidationError(
                {
                    "signature": "The model reads the columns "
                    f"{', '.join(f['name'] for f in found.inputs)}; the signature names "
                    f"{', '.join(g['name'] for g in given)}."
                }
            )
        return given
    if given is None:
        raise ValidationError(
            {
                "signature": "The model file does not name its input columns: give them as "
                '{"inputs": [{"name": ..., "type": ...}]}.'
            }
        )
    if found.n_inputs is not None and found.n_inputs != len(given):
        raise ValidationError(
            {"signature": f"The model reads {found.n_inputs} columns; the signature names {len(given)}."}
        )
    return given


def version_import(
    *,
    project: Project,
    created_by: User | None,
    group_name: Any,
    uploaded_file: Any,
    fmt: Any = None,
    signature: Any = None,
    classes: Any = None,
    problem_type: Any = None,
    description: Any = "",
    tags: Any = None,
) -> ModelVersion:
    """A skops or ONNX file as the next version of the group, pending approval. ValidationError (400) names what
    is wrong; ImportTooLarge past REGISTRY_MAX_IMPORT_BYTES. Nothing is stored unless the whole import succeeds."""
    if uploaded_file is None:
        raise ValidationError({"file": "Choose a skops or ONNX file to import."})
    clean_group_name(group_name)
    clean_tags(tags)
    given = clean_signature(signature)
    given_classes = clean_classes(classes)
    given_problem = clean_problem_type(problem_type)
    wanted = str(fmt or "").strip().lower()
    if wanted and wanted not in (ModelFormat.SKOPS, ModelFormat.ONNX):
        raise ValidationError({"format": f"Unknown format {wanted!r}; imports are skops or onnx."})
    original = os.path.basename(str(getattr(uploaded_file, "name", "") or ""))[:200]
    with upload_on_disk(uploaded_file) as path:
        detected, onnx_model = detect_format(path)
        if wanted and wanted != detected:
            raise ValidationError({"format": f"The file is {detected}, not {wanted}."})
        found = inspect_skops(path) if detected == ModelFormat.SKOPS else inspect_onnx(path, onnx_model)
        inputs = _signature(found, given)
        model_classes = given_classes if given_classes is not None else found.classes
        problem = (
            given_problem
            or found.problem_type
            or (("binary" if len(model_classes) == 2 else "multiclass") if model_classes else "regression")
        )
        if problem == "regression":
            model_classes = []
        label_type = "long" if model_classes and all(isinstance(c, int) for c in model_classes) else "string"
        outputs = [{"name": "prediction", "type": "double" if problem == "regression" else label_type}]
        extension = "skops" if detected == ModelFormat.SKOPS else "onnx"
        artifact = artifact_store(
            project_id=project.pk,
            kind=ARTIFACT_KIND,
            local_path=path,
            filename=f"model.{extension}",
            created_by_id=getattr(created_by, "pk", None),
            meta={"format": detected, "filename": original},
        )
    try:
        return version_create(
            project=project,
            created_by=created_by,
            group_name=group_name,
            artifact=artifact,
            fmt=detected,
            source_kind=SourceKind.IMPORT,
            signature={"inputs": inputs, "outputs": outputs},
            classes=model_classes,
            problem_type=problem,
            library_versions=found.libraries,
            description=str(description or "")[:10_000],
            tags=tags,
            metadata={"imported_file": original, **found.metadata},
        )
    except Exception:
        with suppress(Exception):
            storage().delete(artifact.path)
        artifact.delete()
        raise
