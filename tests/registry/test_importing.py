"""Importing models made elsewhere: skops (allowlisted types only), ONNX (served with onnxruntime), never a pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from apps.core.models import Artifact
from apps.core.storage import project_root, walk_files
from apps.registry import importing
from apps.registry.loading import load_version
from apps.registry.models import ModelGroup, ModelVersion
from tests.registry.conftest import (
    SIGNATURE,
    crafted_pickles,
    forest_skops,
    logistic_onnx,
    logistic_pipeline,
    logistic_skops,
    numeric_frame,
    per_column_onnx,
    upload,
)


def _import(project, user, content, name="model.bin", **kw):  # type: ignore[no-untyped-def]
    return importing.version_import(
        project=project,
        created_by=user,
        group_name=kw.pop("group", "imported"),
        uploaded_file=upload(content, name),
        **kw,
    )


def _nothing_stored(project) -> bool:  # type: ignore[no-untyped-def]
    return (
        not ModelVersion.objects.exists()
        and not ModelGroup.objects.exists()
        and not Artifact.objects.filter(kind="registry.model").exists()
        and not list(walk_files(project_root(project.pk)))
    )


def test_skops_pipeline_gets_its_signature_and_classes_from_the_file(project_a, ds_user):
    version = _import(
        project_a,
        ds_user,
        logistic_skops(),
        "pipeline.skops",
        description="from a notebook",
        tags={"origin": "notebook"},
    )
    assert (version.format, version.source_kind, version.version) == ("skops", "import", 1)
    assert version.signature["inputs"] == SIGNATURE["inputs"]
    assert version.signature["outputs"] == [{"name": "prediction", "type": "string"}]
    assert version.classes == ["churned", "stayed"] and version.problem_type == "binary"
    assert version.artifact.kind == "registry.model" and version.artifact.path.endswith("/model.skops")
    assert version.metadata["imported_file"] == "pipeline.skops"
    assert version.library_versions["skops"]
    assert version.tags == {"origin": "notebook"} and version.approval_status == "PendingManualApproval"
    X, _ = numeric_frame()
    labels, proba = load_version(version).predict(X.head(20))
    assert list(labels) == list(logistic_pipeline().predict(X.head(20)))
    np.testing.assert_allclose(proba, logistic_pipeline().predict_proba(X.head(20)))


def test_skops_with_a_tree_is_refused_naming_the_type(project_a, ds_user):
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, forest_skops(), "forest.skops")
    errors = err.value.message_dict
    assert "sklearn.tree._tree.Tree" in errors["file"][0]
    assert errors["untrusted_types"] == ["sklearn.tree._tree.Tree"]
    assert _nothing_stored(project_a)


def test_an_admin_may_allowlist_a_type(project_a, ds_user, settings):
    settings.REGISTRY_SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]
    version = _import(project_a, ds_user, forest_skops(), "forest.skops")
    X, _ = numeric_frame()
    labels, _ = load_version(version).predict(X.head(5))
    assert len(labels) == 5
    settings.REGISTRY_SKOPS_TRUSTED_TYPES = []  # checked again at every load, not only at import
    from apps.registry.loading import UnsafeModel

    with pytest.raises(UnsafeModel) as err:
        load_version(version)
    assert err.value.types == ["sklearn.tree._tree.Tree"]


def test_onnx_predicts_like_sklearn(project_a, ds_user):
    version = _import(project_a, ds_user, logistic_onnx(), "model.onnx", signature=SIGNATURE)
    assert version.format == "onnx" and version.artifact.path.endswith("/model.onnx")
    assert version.signature["inputs"] == SIGNATURE["inputs"]
    assert version.classes == ["churned", "stayed"]  # from the classifier's class labels
    X, _ = numeric_frame()
    labels, proba = load_version(version).predict(X)
    sk = logistic_pipeline()
    assert list(labels) == list(sk.predict(X))
    np.testing.assert_allclose(proba, sk.predict_proba(X), atol=1e-5)


def test_onnx_with_one_input_per_column_names_its_columns(project_a, ds_user):
    version = _import(project_a, ds_user, per_column_onnx(), "named.onnx")
    assert [c["name"] for c in version.signature["inputs"]] == ["age", "income", "tenure", "score"]
    assert {c["type"] for c in version.signature["inputs"]} == {"float"}
    X, _ = numeric_frame()
    labels, proba = load_version(version).predict(X.head(10))
    assert len(labels) == 10 and proba.shape == (10, 2)


def test_onnx_without_named_columns_needs_a_signature_of_the_right_width(project_a, ds_user):
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, logistic_onnx(), "model.onnx")
    assert "signature" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, logistic_onnx(), "model.onnx", signature={"inputs": SIGNATURE["inputs"][:3]})
    assert "reads 4 columns" in err.value.message_dict["signature"][0]
    assert _nothing_stored(project_a)


@pytest.mark.parametrize(
    "signature",
    [
        '{"inputs": [{"name": "a", "type": "tensor"}]}',
        "not json",
        {"inputs": [{"name": "a"}, {"name": "a"}]},
        {"inputs": []},
    ],
)
def test_bad_signatures_are_refused(project_a, ds_user, signature):
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, logistic_onnx(), "model.onnx", signature=signature)
    assert "signature" in err.value.message_dict


def external_data_onnx(location: str) -> bytes:
    """Y = X + W, with W stored as external data at `location`."""
    from onnx import TensorProto, helper

    weight = helper.make_tensor("W", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 4])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize(
    "location",
    [
        "../../../../etc/passwd",
        "/etc/passwd",
        "weights.bin",
        "%2e%2e/secret",
        "file:///etc/passwd",
        "w.bin#frag",
        "w.bin?x=1",
    ],
)
def test_onnx_with_external_data_is_refused(project_a, ds_user, location):
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, external_data_onnx(location), "model.onnx", signature=SIGNATURE)
    assert "external files" in err.value.message_dict["file"][0]
    assert _nothing_stored(project_a)


def test_the_format_comes_from_the_content_not_the_name(project_a, ds_user):
    version = _import(project_a, ds_user, logistic_onnx(), "looks-like.skops", signature=SIGNATURE)
    assert version.format == "onnx"
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, logistic_onnx(), "model.onnx", signature=SIGNATURE, fmt="skops")
    assert err.value.message_dict["format"] == ["The file is onnx, not skops."]


def test_crafted_pickles_are_refused_unread(project_a, ds_user, canary):
    for name, content in crafted_pickles(canary).items():
        with pytest.raises(ValidationError) as err:
            _import(project_a, ds_user, content, name, signature=SIGNATURE)
        assert "pickles are never loaded" in err.value.message_dict["file"][0], name
        assert not canary.exists(), name
    assert _nothing_stored(project_a)


def test_the_canary_payload_is_live(canary):
    """The payload the tests above refuse does write the canary when unpickled (so they can fail)."""
    pickle.loads(crafted_pickles(canary)["model.pkl"])
    assert canary.read_text() == "pwned"


@pytest.mark.parametrize("content", [b"", b"\x00" * 64, b"PK\x03\x04not really a zip", b"hello,world\n1,2\n"])
def test_junk_is_refused(project_a, ds_user, content):
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, content, "model.onnx", signature=SIGNATURE)
    assert "file" in err.value.message_dict
    assert _nothing_stored(project_a)


def test_the_size_cap_is_ours(project_a, ds_user, settings):
    settings.REGISTRY_MAX_IMPORT_BYTES = 1000
    with pytest.raises(importing.ImportTooLarge) as err:
        _import(project_a, ds_user, logistic_skops(), "pipeline.skops")
    assert "REGISTRY_MAX_IMPORT_BYTES" in err.value.message_dict["file"][0]
    assert _nothing_stored(project_a)


def test_a_bad_group_name_stores_nothing(project_a, ds_user):
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, logistic_skops(), "pipeline.skops", group="../escape")
    assert "name" in err.value.message_dict
    assert _nothing_stored(project_a)


def test_a_crafted_skops_file_is_refused_naming_its_types(project_a, ds_user):
    """A skops schema that would build `os.system` (or call a function) is refused before anything loads."""
    import io
    import json
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(logistic_skops()))
    schema = json.loads(source.read("schema.json"))
    schema["__module__"], schema["__class__"] = "os", "system"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, json.dumps(schema) if name == "schema.json" else source.read(name))
    with pytest.raises(ValidationError) as err:
        _import(project_a, ds_user, out.getvalue(), "evil.skops")
    assert "os.system" in err.value.message_dict["untrusted_types"]
    assert "os.system" in err.value.message_dict["file"][0]
    assert _nothing_stored(project_a)


@pytest.mark.parametrize(
    "filename",
    [
        "../../../etc/cron.d/x",
        "/etc/passwd",
        "%2e%2e%2fsecret.skops",
        "file:///etc/passwd",
        "model.skops#x",
        "model.skops?x=1",
        "..\\..\\win.ini",
    ],
)
def test_the_uploaded_file_name_never_becomes_a_path(project_a, ds_user, filename):
    version = _import(project_a, ds_user, logistic_skops(), filename)
    root = f"projects/{project_a.pk}/artifacts/registry-model/"
    assert version.artifact.path.startswith(root) and version.artifact.path.endswith("/model.skops")
    assert ".." not in version.artifact.path.removeprefix(root)
    assert "/" not in version.metadata["imported_file"]


def test_skops_pipeline_with_an_encoder_types_its_label_columns_as_strings(project_a, ds_user):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from tests.registry.conftest import skops_bytes

    X, y = numeric_frame()
    X = X.assign(plan=pd.Series(["basic", "pro"] * (len(X) // 2), dtype=object))
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "income"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(X, y)
    content = skops_bytes(pipe)
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=content)
    if untrusted:
        pytest.skip(f"this skops version flags {untrusted}")
    version = _import(project_a, ds_user, content, "encoded.skops")
    types = {c["name"]: c["type"] for c in version.signature["inputs"]}
    assert types == {"age": "double", "income": "double", "tenure": "double", "score": "double", "plan": "string"}
    labels, _ = load_version(version).predict(X.head(8))
    assert list(labels) == list(pipe.predict(X.head(8)))
