"""Hostile skops files through the real import API: decompression bombs, lying .npy headers and member sizes,
archives with too many entries and malformed schema.json. Each is a 400 naming the problem, costs little memory,
and leaves nothing behind."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from typing import Any

import pytest
from django.urls import reverse

from apps.registry.models import ModelVersion
from tests.core.bombs import (
    MB,
    first_npy,
    lie_about_size,
    many_entries,
    npy_header,
    peak_allocated,
    swap_member,
    zeros_in_place_of,
)
from tests.registry.conftest import logistic_skops

URL = "api:model-version-import"


@functools.cache
def model() -> bytes:
    return logistic_skops()


def post(client: Any, project: Any, content: bytes) -> Any:
    upload = io.BytesIO(content)
    upload.name = "model.skops"
    return client.post(reverse(URL), {"project": project.pk, "group": "hostile", "file": upload}, format="multipart")


def refused(client: Any, project: Any, content: bytes, fragment: str, *, max_peak: int = 16 * MB) -> dict[str, Any]:
    with peak_allocated() as peak:
        response = post(client, project, content)
    assert response.status_code == 400, response.content[:500]
    data = response.json()
    assert fragment in data["detail"], data
    assert "file" in data["errors"], data
    assert peak() < max_peak, f"the refusal allocated {peak() / MB:.0f} MB"
    assert not ModelVersion.objects.exists()
    return data


@functools.cache
def npy_zeros_bomb() -> bytes:
    """The probe's file: an array member declaring 64 MB of zeros, deflated to ~64 KB (the probe used 1 GB)."""
    name = first_npy(model())
    return zeros_in_place_of(model(), name, npy_header((8 * MB,)), 64 * MB)


def test_a_valid_skops_file_still_imports(api_for, project_a, ds_user):
    response = post(api_for(ds_user), project_a, model())
    assert response.status_code == 201, response.json()
    assert response.json()["format"] == "skops"


def test_an_npy_decompression_bomb_is_a_400_and_costs_no_memory(api_for, project_a, ds_user):
    assert len(npy_zeros_bomb()) < MB
    data = refused(api_for(ds_user), project_a, npy_zeros_bomb(), "It looks like a decompression bomb")
    assert data["errors"]["code"] == ["ratio"] and data["errors"]["member"] == [first_npy(model())]


def test_an_npy_header_that_declares_a_huge_array_is_refused_before_numpy_allocates(api_for, project_a, ds_user):
    name = first_npy(model())
    lying = swap_member(model(), name, npy_header((50_000, 50_000)) + bytes(8))  # 20 GB declared, 8 bytes held
    data = refused(api_for(ds_user), project_a, lying, "declares an array of shape (50000, 50000) (float64)")
    assert "the limit is 512.0 MB (ARCHIVE_MAX_MEMBER_BYTES)" in data["detail"]
    assert data["errors"]["code"] == ["array_too_large"]


def test_an_npy_header_that_disagrees_with_its_member_is_refused(api_for, project_a, ds_user):
    name = first_npy(model())
    short = swap_member(model(), name, npy_header((1000,)) + bytes(80))
    data = refused(api_for(ds_user), project_a, short, "8,000 bytes of data, but holds 80")
    assert data["errors"]["code"] == ["array_size_mismatch"]


def test_an_object_array_is_refused(api_for, project_a, ds_user):
    name = first_npy(model())
    objects = swap_member(model(), name, npy_header((1,), descr="|O") + bytes(8))
    refused(api_for(ds_user), project_a, objects, "is an object array")


def test_a_member_whose_declared_size_lies_about_its_stream(api_for, project_a, ds_user):
    """The central directory keeps the array's real size, but the stream inflates to 64 MB: never read past it."""
    name = first_npy(model())
    declared = zipfile.ZipFile(io.BytesIO(model())).getinfo(name).file_size
    data = refused(api_for(ds_user), project_a, lie_about_size(npy_zeros_bomb(), name, declared), "is damaged")
    assert data["errors"]["member"] == [name]


def test_100000_entries_are_a_400(api_for, project_a, ds_user):
    content = many_entries(100_000)
    data = refused(
        api_for(ds_user), project_a, content, "entries; the limit is 10,000 (ARCHIVE_MAX_ENTRIES)", max_peak=24 * MB
    )  # the 8.8 MB upload itself passes through the request
    assert data["errors"]["code"] == ["too_many_entries"]


def test_a_schema_pointing_at_one_member_many_times_stops_at_the_budget(api_for, project_a, ds_user, settings):
    """Each reference re-reads the member: the bytes handed out per pass are capped, whatever the schema says."""
    settings.ARCHIVE_MAX_UNCOMPRESSED_BYTES = 8 * MB
    array = npy_header((MB // 8,)) + bytes(MB)  # 1 MiB, stored
    node = {
        "__class__": "ndarray",
        "__module__": "numpy",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": "a.npy",
    }
    schema = {
        "__class__": "list",
        "__module__": "builtins",
        "__loader__": "ListNode",
        "protocol": 2,
        "content": [dict(node, __id__=i + 1) for i in range(50)],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
        zf.writestr("a.npy", array)
    data = refused(
        api_for(ds_user), project_a, buffer.getvalue(), "reading it hands out more than 8.0 MB", max_peak=24 * MB
    )
    assert data["errors"]["code"] == ["too_large"]


# --- malformed schema.json ------------------------------------------------------------------------------------------


def with_schema(raw: bytes | str) -> bytes:
    return swap_member(model(), "schema.json", raw.encode() if isinstance(raw, str) else raw)


def real_schema() -> dict[str, Any]:
    return json.loads(zipfile.ZipFile(io.BytesIO(model())).read("schema.json"))


def without_a_nested_loader() -> str:
    schema = real_schema()
    del schema["content"]["content"]["steps"]["content"][0]["__loader__"]
    return json.dumps(schema)


def deeply_nested(depth: int) -> str:
    schema = real_schema()
    return json.dumps(schema)[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"


def unknown_loader() -> str:
    schema = real_schema()
    schema["content"]["__loader__"] = "EvalNode"
    return json.dumps(schema)


def container_of_numbers() -> str:
    schema = real_schema()
    schema["content"]["content"]["steps"]["content"] = 5
    return json.dumps(schema)


def missing_file() -> str:
    text = json.dumps(real_schema())
    name = first_npy(model())
    return text.replace(json.dumps(name), json.dumps("nope.npy"), 1)


SCHEMAS = {
    "not JSON": (lambda: "{not json", "schema.json is not valid JSON"),
    "not UTF-8": (lambda: b"\xff\xfe{}", "schema.json is not UTF-8 text"),
    "a list": (lambda: "[]", "must be a JSON object (a node); it is a list"),
    "an empty object": (lambda: "{}", "has no valid protocol"),
    "a string protocol": (lambda: '{"protocol": "2"}', "has no valid protocol"),
    "a root without a loader": (
        lambda: '{"protocol": 2, "__class__": "X", "__module__": "m"}',
        "the node at the root has no '__loader__'",
    ),
    "a node without __loader__": (without_a_nested_loader, "has no '__loader__'"),
    "an unknown loader": (unknown_loader, "unknown loader 'EvalNode'"),
    "a container of numbers": (container_of_numbers, "must hold nodes"),
    "50,000-deep nesting": (lambda: deeply_nested(50_000), "nested 50,001 levels deep; the limit is 200"),
    "a missing array member": (missing_file, "The archive has no member 'nope.npy'"),
}


@pytest.mark.parametrize("case", SCHEMAS, ids=list(SCHEMAS))
def test_a_malformed_schema_is_a_400_naming_the_problem(api_for, project_a, ds_user, case):
    make, fragment = SCHEMAS[case]
    refused(api_for(ds_user), project_a, with_schema(make()), fragment)


def test_a_schema_over_its_cap(api_for, project_a, ds_user, settings):
    settings.REGISTRY_SKOPS_MAX_SCHEMA_BYTES = 10_000
    data = refused(api_for(ds_user), project_a, model(), "the limit is 9.8 KB (REGISTRY_SKOPS_MAX_SCHEMA_BYTES)")
    assert data["errors"]["code"] == ["schema_too_large"]


def test_the_import_page_names_the_problem_without_the_machine_keys(client_for, project_a, ds_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(ds_user).post(
        reverse("registry:import"), {"group": "bomb", "file": SimpleUploadedFile("m.skops", npy_zeros_bomb())}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "It looks like a decompression bomb" in page
    assert "code: ratio" not in page and ">ratio<" not in page
    assert not ModelVersion.objects.exists()


def test_sparse_matrices_nested_npz_load_and_a_bomb_inside_one_is_refused(tmp_path):
    import scipy.sparse as sp
    import skops.io

    from apps.core.archives import ArchiveError
    from apps.registry import skopsfile

    matrix = sp.random(50, 40, density=0.1, format="csr", random_state=0)
    path = tmp_path / "sparse.skops"
    skops.io.dump({"m": matrix}, path)
    loaded = skopsfile.load(path, skopsfile.untrusted_types(path))
    assert (loaded["m"] != matrix).nnz == 0
    archive = zipfile.ZipFile(path)
    npz = next(n for n in archive.namelist() if n.endswith(".npz"))
    inner = zipfile.ZipFile(io.BytesIO(archive.read(npz)))
    array = next(n for n in inner.namelist() if n.endswith(".npy"))
    bomb_npz = zeros_in_place_of(archive.read(npz), array, npy_header((8 * MB,)), 64 * MB)
    (tmp_path / "bomb.skops").write_bytes(swap_member(path.read_bytes(), npz, bomb_npz))
    with pytest.raises(ArchiveError) as err:
        skopsfile.untrusted_types(tmp_path / "bomb.skops")
    assert err.value.code == "ratio" and err.value.member == array
