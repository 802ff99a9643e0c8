"""Forests compiled to native code, for serving large batches about twice as fast with the same answers.

scikit-learn walks each tree node by node through generic arrays (`tree_.apply`); that walk was three quarters of
the CPU a large forest request costs. Here each tree becomes one C function whose nodes are jumps with the threshold
written in (a C99 hex float, so exactly the model's double), compiled once per forest with the machine's C compiler.
The function returns the leaf's node id, as `tree_.apply` does; the leaf tables and their summation in tree order
are FastForest's, so probabilities and values are bit-for-bit scikit-learn's (tests/registry/test_native.py), NaNs
included (each node sends a missing value to the side scikit-learn recorded for it at fit).

Compiling takes seconds to a minute for a large forest, so it happens in the background at low CPU priority while
FastForest serves; the forest switches to the compiled code when it is ready (`prepare_serving` compiles ahead of
time). The shared object is cached under SERVING_NATIVE_DIR by a hash of the trees, code generator and compiler, and
signed with the artifact key: a cached file is verified (HMAC over its bytes) and copied to a private file before it
is loaded, so a file put or changed in that folder is never run. The trees are checked before any code is written
(feature indexes within the input's width, children after their parent, so every walk ends). Where there is no C
compiler, a forest is over SERVING_NATIVE_MAX_NODES, or anything fails, FastForest goes on serving: same answers,
slower.

Where it runs (docs/adr/0003-native-forests.md): the C compiler runs only in Celery workers (a
`registry.compile_forests` job, or in the background while a batch transform serves) and in `manage.py
prepare_serving`; compiled code is loaded only in dedicated serving processes (studio/serving_asgi.py), workers and
that command. The combined web process of `make run` serves forests with FastForest unless SERVING_NATIVE_IN_WEB is
set, and never compiles. A serving process that loads a forest with no compiled code asks a worker for it and picks it
up from the cache when it is there. A loaded library is kept once per forest key in a process, so reloading a model
maps nothing new."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from apps.core.artifacts import signature
from apps.core.tempfiles import replace_into_place

logger = logging.getLogger(__name__)

CODEGEN = "atelier-forest-c-3"  # change when the generated code changes: cached objects are keyed by it
SIGN_KIND = "native-forest"
_queue: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = queue.SimpleQueue()
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()
_pending: set[Future[None]] = set()
NODES_PER_UNIT = 100_000  # trees are compiled in files of about this many nodes: gcc's memory grows with a file
STALE_S = 3600.0  # work folders older than this were left by a process that died mid-compile


ROLE_WEB, ROLE_SERVING, ROLE_WORKER, ROLE_COMMAND = "web", "serving", "worker", "command"
_role = ROLE_WEB
_libraries: dict[str, ctypes.CDLL] = {}  # forest key -> its loaded library, once per process
_libraries_lock = threading.Lock()
POLL_S = 2.0  # how often a serving process looks in the cache for a forest a worker is compiling


def set_role(role: str) -> None:
    """Say what this process is (its entry point does: serving_asgi, the Celery worker, prepare_serving)."""
    global _role
    _role = role


def mode() -> str:
    """'compile' (compile here when needed, and load), 'load' (load what was compiled elsewhere) or 'off'."""
    if not settings.SERVING_NATIVE_TREES:
        return "off"
    if _role in (ROLE_WORKER, ROLE_COMMAND):
        return "compile"
    if _role == ROLE_SERVING or settings.SERVING_NATIVE_IN_WEB:
        return "load"
    return "off"


class NativeUnavailable(Exception):
    """This forest is not compiled (no compiler, too large, unreadable trees, a failed build); FastForest serves it."""


@lru_cache(maxsize=4)
def compiler(command: str) -> tuple[str, str] | None:
    """(path, identity) of the C compiler `command`, or None when there is none."""
    path = shutil.which(command)
    if not path:
        return None
    try:  # `--version` and `-dumpmachine`: both gcc and clang answer them
        version = (
            subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True)
            .stdout.strip()
            .splitlines()
        )
        machine = subprocess.run(
            [path, "-dumpmachine"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return path, f"{version[0] if version else Path(path).name} / {machine}"


def check_trees(trees: Sequence[Any], n_features: int) -> int:
    """The forest's node count, after checking that each tree is a well-formed tree over `n_features` inputs."""
    total = 0
    for tree in trees:
        left, right, feature = tree.children_left, tree.children_right, tree.feature
        count = int(tree.node_count)
        ids = np.arange(count)
        split = left != -1
        arrays = (left, right, feature, tree.threshold, _missing_left(tree))
        if count < 1 or any(len(a) != count for a in arrays) or bool(np.any((left == -1) != (right == -1))):
            raise NativeUnavailable("a tree's children arrays are inconsistent")
        # children come after their parent and inside the tree: every walk moves forward and ends at a leaf
        if bool(np.any(split & ((left <= ids) | (right <= ids) | (left >= count) | (right >= count)))):
            raise NativeUnavailable("a tree's nodes are not in the order scikit-learn writes them")
        if bool(np.any(split & ((feature < 0) | (feature >= n_features)))):
            raise NativeUnavailable("a tree splits on a feature outside the model's inputs")
        total += count
    return total


def _literal(value: float) -> str:
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    return float(value).hex()  # exact: the very double scikit-learn compares with


def _missing_left(tree: Any) -> np.ndarray:
    missing = getattr(tree, "missing_go_to_left", None)
    return np.zeros(tree.node_count, dtype=bool) if missing is None else np.asarray(missing, dtype=bool)


def tree_source(index: int, tree: Any) -> str:
    """One tree as a C function from a row of float32 inputs to its leaf's node id (as `tree_.apply`)."""
    left, right = tree.children_left.tolist(), tree.children_right.tolist()
    feature, threshold = tree.feature.tolist(), tree.threshold.tolist()
    missing_left = _missing_left(tree).tolist()
    lines = [f"HIDDEN int32_t t{index}(const float *x) {{"]
    for node in range(int(tree.node_count)):
        if left[node] == -1:
            lines.append(f"n{node}: return {node};")
            continue
        value, limit = f"(double)x[{feature[node]}]", _literal(threshold[node])
        # scikit-learn: NaN goes where missing_go_to_left says, else `x <= threshold` goes left
        test = f"!({value} > {limit})" if missing_left[node] else f"{value} <= {limit}"
        lines.append(f"n{node}: if ({test}) goto n{left[node]}; goto n{right[node]};")
    lines.append("}")
    return "\n".join(lines)


FOREST_SUM = """
typedef int32_t (*tree_fn)(const float *);
static const tree_fn trees[] = {%(table)s};

/* out[r, :] += leaves[t][leaf of row r in tree t, :] for t in tree order. One tree's code runs over a block of
   rows before the next tree's: that code stays in the instruction cache (128-row blocks, cycling through every
   tree's code, ran 1.5 times slower for 100 trees) and the block's outputs stay in the data cache. */
void atelier_forest_sum(const float *X, int64_t n_rows, int64_t n_features, const double *const *leaves,
                        int64_t n_outputs, double *out) {
    const int64_t block = 4096;
    for (int64_t start = 0; start < n_rows; start += block) {
        const int64_t stop = start + block < n_rows ? start + block : n_rows;
        for (int64_t t = 0; t < %(n_trees)d; t++) {
            const double *leaf = leaves[t];
            const tree_fn walk = trees[t];
            for (int64_t r = start; r < stop; r++) {
                const double *value = leaf + (int64_t)walk(X + r * n_features) * n_outputs;
                double *o = out + r * n_outputs;
                for (int64_t c = 0; c < n_outputs; c++) o[c] += value[c];
            }
        }
    }
}
"""


HEADER = f"""#include <stdint.h>
#include <math.h>
#define HIDDEN __attribute__((visibility("hidden")))
/* {CODEGEN} */
"""


def forest_sources(trees: Sequence[Any]) -> list[str]:
    """C files for the forest: the summing function first, then the trees in files of about NODES_PER_UNIT nodes
    (one file for a large forest took gcc ~3 GB per million nodes; files are compiled one after the other)."""
    declarations = "\n".join(f"HIDDEN int32_t t{i}(const float *x);" for i in range(len(trees)))
    main = (
        HEADER
        + declarations
        + FOREST_SUM % {"table": ", ".join(f"t{i}" for i in range(len(trees))), "n_trees": len(trees)}
    )
    units: list[str] = [main]
    chunk: list[str] = []
    nodes = 0
    for i, tree in enumerate(trees):
        chunk.append(tree_source(i, tree))
        nodes += int(tree.node_count)
        if nodes >= NODES_PER_UNIT:
            units.append(HEADER + "\n".join(chunk) + "\n")
            chunk, nodes = [], 0
    if chunk:
        units.append(HEADER + "\n".join(chunk) + "\n")
    return units


def forest_key(trees: Sequence[Any], n_features: int, compiler_id: str) -> str:
    """A name for the compiled forest: the same trees with the same compiler and generator give the same name."""
    digest = hashlib.sha256(f"{CODEGEN}\n{compiler_id}\n{n_features}\n{len(trees)}\n".encode())
    for tree in trees:
        for array in (tree.children_left, tree.children_right, tree.feature, tree.threshold, _missing_left(tree)):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class NativeForest:
    """The compiled sum over a forest's trees of their leaf tables (see FastForest), free of the GIL while it runs."""

    def __init__(self, library: ctypes.CDLL, leaves: Sequence[np.ndarray], n_features: int) -> None:
        self._library = library  # kept: unloading it would leave the function dangling
        self._leaves = [np.ascontiguousarray(leaf, dtype=np.float64) for leaf in leaves]
        self._table = (ctypes.c_void_p * len(self._leaves))(*[leaf.ctypes.data for leaf in self._leaves])
        self.n_outputs = 1 if self._leaves[0].ndim == 1 else int(self._leaves[0].shape[1])
        self.n_features = n_features
        function = library.atelier_forest_sum
        function.restype = None
        function.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_int64,
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_void_p,
        ]
        self._function = function

    def sum(self, X: np.ndarray) -> np.ndarray:
        """The sum over trees of each row's leaf values: (n, outputs) for classifiers, (n,) for regressors."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {X.shape}")
        n = X.shape[0]
        out = np.zeros((n, self.n_outputs) if self._leaves[0].ndim == 2 else n)
        if n:
            self._function(
                X.ctypes.data, n, self.n_features, ctypes.addressof(self._table), self.n_outputs, out.ctypes.data
            )
        return out


def _cache_dir() -> Path:
    path = Path(settings.SERVING_NATIVE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sign(name: str, data: bytes) -> str:
    return signature(SIGN_KIND, name, hashlib.sha256(data).hexdigest(), len(data))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across processes (serving workers loading the same forest compile it once)."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_verified(path: Path) -> ctypes.CDLL | None:
    """The cached object `path` loaded, if its signature holds; None when there is none. A file whose signature
    fails is removed and not loaded. The verified bytes are loaded from a private copy, so nothing can swap the file
    between the check and the load. A library is loaded once per process: later loads of the same forest (a model
    reloaded) check the file again and reuse the library already mapped."""
    try:
        data = path.read_bytes()
        recorded = path.with_suffix(".sig").read_text().strip()
    except FileNotFoundError:
        return None
    if not hmac.compare_digest(_sign(path.name, data), recorded):
        logger.warning("Compiled forest %s failed its signature check; removing it and compiling again.", path)
        path.unlink(missing_ok=True)
        return None
    with _libraries_lock:
        library = _libraries.get(path.name)
    if library is not None:
        return library
    # A private folder (mode 0700: no other user can swap the file in it before the load) inside the cache, not /tmp,
    # which may be mounted noexec; a fresh name each time, because the loader returns an already loaded library for
    # a name it has seen (a reused /proc/self/fd/N of an in-memory file gave a previous forest's code).
    with tempfile.TemporaryDirectory(prefix="load-", dir=path.parent) as private:
        copy = Path(private) / path.name
        copy.write_bytes(data)
        library = ctypes.CDLL(str(copy))  # the mapping outlives the file
    with _libraries_lock:
        return _libraries.setdefault(path.name, library)


def _remove_stale(folder: Path) -> None:
    """Work folders of compiles whose process died before cleaning up."""
    for work in [*folder.glob("forest-*"), *folder.glob("load-*")]:
        with contextlib.suppress(OSError):
            if work.is_dir() and time.time() - work.stat().st_mtime > STALE_S:
                shutil.rmtree(work, ignore_errors=True)


def _run_compiler(command: list[str], deadline: float) -> None:
    nice = shutil.which("nice")
    if nice:
        command = [nice, "-n", "10", *command]  # below the serving threads' priority
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )  # its own group: a timeout stops the driver's children too
    try:
        _, stderr = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise CompileTimedOut(f"the compiler took over {settings.SERVING_NATIVE_TIMEOUT_S:.0f} s") from exc
    if process.returncode != 0:
        raise NativeUnavailable(f"the compiler failed: {stderr.strip()[-500:]}")


def _compile(sources: Sequence[str], compiler_path: str, target: Path) -> None:
    deadline = time.monotonic() + float(settings.SERVING_NATIVE_TIMEOUT_S)
    with tempfile.TemporaryDirectory(prefix="forest-", dir=target.parent) as work:
        objects = []
        for number, source in enumerate(sources):
            c_file, o_file = Path(work) / f"unit{number}.c", Path(work) / f"unit{number}.o"
            c_file.write_text(source)
            _run_compiler([compiler_path, "-O1", "-w", "-fPIC", "-c", "-o", str(o_file), str(c_file)], deadline)
            c_file.unlink()
            objects.append(str(o_file))
        so_file = Path(work) / "forest.so"
        _run_compiler([compiler_path, "-shared", "-o", str(so_file), *objects], deadline)
        data = so_file.read_bytes()
        with replace_into_place(target.with_suffix(".sig")) as sig:  # whole or absent, like the library itself
            sig.write_text(_sign(target.name, data))
        os.replace(so_file, target)  # whole or absent: a reader never sees half a file


class CompileTimedOut(NativeUnavailable):
    """The compiler ran past SERVING_NATIVE_TIMEOUT_S (a busy machine, say): tried again after a while."""


def _record_failure(failed: Path, exc: NativeUnavailable) -> None:
    with replace_into_place(failed) as tmp:
        tmp.write_text(json.dumps({"reason": str(exc), "timeout": isinstance(exc, CompileTimedOut), "at": time.time()}))


def _earlier_failure(failed: Path) -> str | None:
    """The reason an earlier compile of this forest failed, or None when there is none or it may be tried again (a
    timeout, SERVING_NATIVE_RETRY_AFTER_S ago). A compiler error is final for these trees and this compiler."""
    try:
        text = failed.read_text()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
        reason, timeout, at = str(record["reason"]), bool(record["timeout"]), float(record["at"])
    except (ValueError, KeyError, TypeError):
        reason, timeout, at = text.strip(), False, 0.0
    if timeout and time.time() - at >= float(settings.SERVING_NATIVE_RETRY_AFTER_S):
        failed.unlink(missing_ok=True)
        return None
    return reason[:300]


def _target(trees: Sequence[Any], leaves: Sequence[np.ndarray], n_features: int) -> tuple[str, Path, int]:
    """(compiler path, cache file, node count) of the forest, after every check that comes before writing code."""
    found = compiler(str(settings.SERVING_NATIVE_CC))
    if found is None:
        raise NativeUnavailable("no C compiler")
    compiler_path, compiler_id = found
    nodes = check_trees(trees, n_features)
    limit = int(settings.SERVING_NATIVE_MAX_NODES)
    if nodes > limit:
        raise NativeUnavailable(f"{nodes:,} nodes, over SERVING_NATIVE_MAX_NODES ({limit:,})")
    if len(leaves) != len(trees) or any(len(v) != t.node_count for v, t in zip(leaves, trees, strict=False)):
        raise NativeUnavailable("a tree's leaf table does not match its nodes")  # the walk's answer indexes it
    return compiler_path, _cache_dir() / f"{forest_key(trees, n_features, compiler_id)}.so", nodes


def build(trees: Sequence[Any], leaves: Sequence[np.ndarray], n_features: int) -> NativeForest:
    """The forest compiled (or taken from the cache); NativeUnavailable with the reason when it cannot be.
    Compiles: only for workers and commands (see mode())."""
    compiler_path, target, nodes = _target(trees, leaves, n_features)
    failed = target.with_suffix(".failed")
    with _locked(target.with_suffix(".lock")):
        library = _load_verified(target)
        if library is None:
            earlier = _earlier_failure(failed)
            if earlier is not None:  # the same trees and compiler failed before: every restart would pay again
                raise NativeUnavailable(f"an earlier compile failed ({earlier})")
            _remove_stale(target.parent)
            logger.info("Compiling a forest of %d trees (%s nodes) to native code.", len(trees), f"{nodes:,}")
            try:
                _compile(forest_sources(trees), compiler_path, target)
            except NativeUnavailable as exc:
                _record_failure(failed, exc)
                raise
            library = _load_verified(target)
            if library is None:
                raise NativeUnavailable("the compiled forest could not be read back")
    return NativeForest(library, leaves, n_features)


def load(trees: Sequence[Any], leaves: Sequence[np.ndarray], n_features: int) -> NativeForest | None:
    """The forest's compiled code from the cache, or None while nobody has compiled it; never compiles.
    NativeUnavailable when it cannot be compiled (or compiling it failed)."""
    _, target, _ = _target(trees, leaves, n_features)
    library = _load_verified(target)
    if library is not None:
        return NativeForest(library, leaves, n_features)
    earlier = _earlier_failure(target.with_suffix(".failed"))
    if earlier is not None:
        raise NativeUnavailable(f"an earlier compile failed ({earlier})")
    return None


def _work() -> None:
    while True:
        job, future = _queue.get()
        if future.set_running_or_notify_cancel():
            try:
                job()
            except Exception:  # the thread must go on for the next forest
                logger.exception("A background forest compile failed.")
            finally:
                future.set_result(None)


def _submit(job: Callable[[], None]) -> Future[None]:
    """Run `job` on this process's compile thread: one at a time, and a daemon, so that a process stopping (a
    serving worker restarted) does not wait minutes for a compile nobody will use."""
    global _worker
    future: Future[None] = Future()
    _pending.add(future)
    future.add_done_callback(_pending.discard)
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="forest-compile", daemon=True)
            _worker.start()
    _queue.put((job, future))
    return future


def build_later(
    trees: Sequence[Any], leaves: Sequence[np.ndarray], n_features: int, done: Callable[[NativeForest | str], None]
) -> Future[None]:
    """In the background (one forest at a time per process): compile (workers, commands) or wait for the compiled code
    to appear in the cache (serving processes: a worker compiles it, see `registry.compile_forests`); `done` gets the
    NativeForest, or the reason there is none."""
    started = time.monotonic()
    compiling = mode() == "compile"

    def run() -> None:
        try:
            if compiling:
                compiled = build(trees, leaves, n_features)
            else:
                found = load(trees, leaves, n_features)
                if found is None:
                    waited = time.monotonic() - started
                    if waited > float(settings.SERVING_NATIVE_TIMEOUT_S) + float(settings.SERVING_NATIVE_WAIT_EXTRA_S):
                        done(f"not compiled after {waited:.0f} s (is a worker running?)")
                        return
                    timer = threading.Timer(POLL_S, _submit, args=(run,))
                    timer.daemon = True
                    timer.start()
                    return
                compiled = found
        except NativeUnavailable as exc:
            logger.info("Forest served without native code: %s.", exc)
            done(str(exc))
        except Exception as exc:  # a failed optimisation must never take the model down
            logger.exception("Compiling a forest failed; it is served without native code.")
            done(f"compiling failed: {exc}")
        else:
            logger.info(
                "A forest of %d trees now runs native code (ready after %.1f s).",
                len(trees),
                time.monotonic() - started,
            )
            done(compiled)

    return _submit(run)


def needs_compile(trees: Sequence[Any], leaves: Sequence[np.ndarray], n_features: int) -> bool:
    """True when a worker should compile this forest: it can be compiled and is neither cached nor failed."""
    try:
        return load(trees, leaves, n_features) is None
    except NativeUnavailable:
        return False


def wait(timeout: float | None = None) -> bool:
    """Wait for this process's background compilations; True when none is left."""
    for future in list(_pending):
        with contextlib.suppress(Exception):
            future.result(timeout=timeout)
    return not _pending
