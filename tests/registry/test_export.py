"""MLflow export: the directory loads with `mlflow.pyfunc.load_model` in a separate Python process that has neither
Django nor Atelier on its path, and predicts exactly what load_version predicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from apps.core.artifacts import ArtifactTampered
from apps.registry import importing
from apps.registry.export import export_mlflow_dir, version_export_mlflow
from apps.registry.loading import load_version
from tests.registry.conftest import SIGNATURE, canvas_version, churn_frame, logistic_onnx, logistic_skops, numeric_frame
from tests.registry.conftest import upload as file_upload

SCRIPT = r"""
import json, sys
import pandas as pd
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.read_parquet(sys.argv[2])
out = model.predict(frame)
import atelier_pyfunc
mods = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
apps = sys.modules.get("apps")
print(json.dumps({"predictions": [v.item() if hasattr(v, "item") else v for v in out],
                  "django": mods, "loader": atelier_pyfunc.__file__,
                  "apps": getattr(apps, "__file__", None)}))
"""


def predict_elsewhere(model_dir: Path, frame: pd.DataFrame, tmp_path: Path) -> dict:
    rows = tmp_path / "rows.parquet"
    frame.to_parquet(rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTHONPATH", "ATELIER"))}
    env["MLFLOW_TRACKING_URI"] = (tmp_path / "mlruns").as_uri()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_dir), str(rows)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_canvas_model_exports_and_predicts_outside_atelier(project_a, ds_user, tmp_path):
    version = canvas_version(project_a, ds_user)
    model_dir = export_mlflow_dir(version=version, target=tmp_path / "export")
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    conf = mlmodel["flavors"]["python_function"]
    assert (conf["loader_module"], conf["code"], conf["data"]) == ("atelier_pyfunc", "code", "model")
    assert [c["name"] for c in json.loads(mlmodel["signature"]["inputs"])] == ["x1", "x2", "colour"]
    assert (model_dir / "code" / "apps" / "automl" / "engine" / "model.py").exists()
    assert not list((model_dir / "code").rglob("settings*")) and not (model_dir / "code" / "apps" / "registry").exists()
    requirements = (model_dir / "requirements.txt").read_text()
    assert "scikit-learn==test" in requirements and "lightgbm==" in requirements
    frame = churn_frame(seed=5).drop(columns=["churn"]).head(25)
    expected, _ = load_version(version).predict(frame)
    got = predict_elsewhere(model_dir, frame, tmp_path)
    assert got["predictions"] == list(expected)
    assert got["django"] == []
    assert got["loader"].startswith(str(model_dir)) and got["apps"].startswith(str(model_dir))


@pytest.mark.parametrize("fmt", ["skops", "onnx"])
def test_imported_models_export_and_predict_the_same(project_a, ds_user, tmp_path, fmt):
    content = logistic_skops() if fmt == "skops" else logistic_onnx()
    version = importing.version_import(
        project=project_a,
        created_by=ds_user,
        group_name="imported",
        uploaded_file=file_upload(content, f"m.{fmt}"),
        signature=SIGNATURE,
    )
    model_dir = export_mlflow_dir(version=version, target=tmp_path / "export")
    assert not (model_dir / "code" / "apps").exists()  # the engine ships only with Canvas models
    meta = json.loads((model_dir / "model" / "atelier.json").read_text())
    assert meta["format"] == fmt and meta["model_file"] == f"model.{fmt}"
    X, _ = numeric_frame(seed=9)
    expected, _ = load_version(version).predict(X.head(30))
    got = predict_elsewhere(model_dir, X.head(30), tmp_path)
    assert got["predictions"] == list(expected)
    assert got["django"] == []


def test_the_zip_holds_one_model_directory(project_a, ds_user):
    version = canvas_version(project_a, ds_user, group="churn-model")
    with version_export_mlflow(version=version) as archive, zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert {
        "churn-model-v1/MLmodel",
        "churn-model-v1/model/model.joblib",
        "churn-model-v1/model/atelier.json",
        "churn-model-v1/code/atelier_pyfunc.py",
        "churn-model-v1/requirements.txt",
        "churn-model-v1/python_env.yaml",
        "churn-model-v1/conda.yaml",
    } <= names
    assert all(n.startswith("churn-model-v1/") and ".." not in n for n in names)


def test_a_tampered_artifact_is_not_exported(project_a, ds_user, tmp_path):
    from apps.core.storage import storage

    version = canvas_version(project_a, ds_user)
    path = storage().path(version.artifact.path)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    with pytest.raises(ArtifactTampered):
        export_mlflow_dir(version=version, target=tmp_path / "export")


def test_the_exported_loader_refuses_a_changed_model_file(project_a, ds_user, tmp_path):
    version = canvas_version(project_a, ds_user)
    model_dir = export_mlflow_dir(version=version, target=tmp_path / "export")
    with (model_dir / "model" / "model.joblib").open("ab") as fh:
        fh.write(b"\0")
    sys.path.insert(0, str(model_dir / "code"))
    try:
        import atelier_pyfunc

        with pytest.raises(ValueError, match="SHA-256"):
            atelier_pyfunc._load_pyfunc(str(model_dir / "model"))
    finally:
        sys.path.remove(str(model_dir / "code"))
        sys.modules.pop("atelier_pyfunc", None)


def test_mlflow_models_serve_serves_the_export(project_a, ds_user, tmp_path):
    """`mlflow models serve` (the MLflow scoring server, local environment) answers /invocations with the same
    predictions as Atelier."""
    import shutil
    import socket
    import time
    import urllib.request

    mlflow_cli = Path(sys.executable).with_name("mlflow")
    if not mlflow_cli.exists() or shutil.which("uvicorn", path=str(mlflow_cli.parent)) is None:
        pytest.skip("the mlflow CLI (requirements-dev.txt) is not installed")
    version = canvas_version(project_a, ds_user)
    model_dir = export_mlflow_dir(version=version, target=tmp_path / "export")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTHONPATH", "ATELIER"))}
    env["PATH"] = f"{mlflow_cli.parent}{os.pathsep}{env.get('PATH', '')}"
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            str(mlflow_cli),
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        frame = churn_frame(seed=6).drop(columns=["churn"]).head(10)
        body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            served = json.loads(response.read())
        expected, _ = load_version(version).predict(frame)
        assert served == {"predictions": list(expected)}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
        log.close()
