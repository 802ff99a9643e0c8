"""Run untrusted or heavy work (flow previews, user formulas, SQL steps) in a separate process with a hard
wall-clock limit and a memory limit, so that it cannot stall the web process or the serving path.

A `Sandbox` keeps a few pre-started worker processes. They come from a `multiprocessing` forkserver: a clean,
single-threaded process started by exec, never a fork of the threaded web server (a fork of a process whose
other threads hold locks can deadlock). A call sends a picklable function and its arguments to an idle worker
and waits on a pipe (the web thread releases the GIL while it waits); the worker lowers its own address-space
limit (RLIMIT_AS) for the call, runs the function and sends back the result, or the exception. Past the time
limit the worker is killed (SIGKILL) and replaced. While it runs, the function may call `report("label")` so
that a timeout can name what was running (a flow preview reports each step it starts).

No Django import here: the callers read their limits from settings and pass plain data in and out. As with any
forkserver or spawn pool, a worker imports the parent's main module when that is a script (not `-m`): uvicorn,
celery and pytest run as `-m` or guard their entry point, as does manage.py (`if __name__ == "__main__"`).
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX
    resource = None  # type: ignore[assignment]


class SandboxError(Exception):
    """The sandboxed call did not produce a result. `message` is text a person can act on."""

    def __init__(self, message: str, *, progress: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.progress = progress  # the last label the call reported (e.g. the step it was running)


class SandboxTimeout(SandboxError):
    """The call ran past its time limit and was killed."""


class SandboxMemoryError(SandboxError):
    """The call needed more memory than its limit (a MemoryError, or the worker died allocating)."""


class SandboxCrashed(SandboxError):
    """The worker process died without answering (a crash in native code, or killed from outside)."""


class SandboxBusy(SandboxError):
    """No worker became free within the time limit."""


class RemoteError(SandboxError):
    """An exception raised in the worker that could not be rebuilt here; carries its type name and traceback."""

    def __init__(self, message: str, *, type_name: str, remote_traceback: str, progress: str | None = None) -> None:
        super().__init__(message, progress=progress)
        self.type_name = type_name
        self.remote_traceback = remote_traceback


# --- inside a worker --------------------------------------------------------------------------------------------

_conn: Connection | None = None  # the worker's end of its pipe (None outside a worker)


def report(label: str) -> None:
    """Tell the caller what the call is doing now (no-op outside a sandbox worker)."""
    if _conn is not None:
        try:
            _conn.send(("progress", str(label), False))
        except (OSError, ValueError):  # pragma: no cover - the parent went away; the next send ends the worker
            pass


def _vm_size() -> int:
    """This process's virtual memory size in bytes (what RLIMIT_AS limits)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - no procfs
        return 0


_base_vm = 0  # the worker's address space once started (interpreter and preloaded modules)


def _set_memory_limit(extra_bytes: int | None) -> None:
    """Allow the worker `extra_bytes` of address space on top of what it mapped when it started (what earlier calls
    left mapped counts too, so that a limit means the same on a fresh and on a used worker)."""
    if resource is None:  # pragma: no cover
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if extra_bytes is None:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        return
    limit = _base_vm + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _error_payload(exc: BaseException) -> tuple[str, Any, bool]:
    text = "".join(traceback.format_exception(exc))
    try:
        data = pickle.dumps((type(exc), exc.args, getattr(exc, "__dict__", {})))
        pickle.loads(data)  # noqa: S301 - our own bytes, checked to load before they are sent
    except Exception:  # noqa: BLE001 - anything unpicklable travels as its name and message
        data = None
    return "error", (data, f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc), text), False


def _out_of_memory(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
            return True
        if "Cannot allocate memory" in str(exc) or "bad_alloc" in str(exc):  # native code's words for ENOMEM
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _worker_main(conn: Connection, preload: Sequence[str]) -> None:
    """Loop: receive (fn, args, kwargs, memory), answer ("ok", result) or ("error", ...)."""
    global _conn, _base_vm
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server; it ends its workers
    with contextlib.suppress(OSError):
        os.nice(10)  # user-triggered work yields the CPU to the web and serving processes
    for name in preload:
        __import__(name)
    _conn = conn
    _base_vm = _vm_size()
    conn.send(("ready", os.getpid(), False))
    while True:
        try:
            fn, args, kwargs, memory = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            _set_memory_limit(memory)
            try:
                answer: tuple[str, Any, bool] = ("ok", fn(*args, **kwargs), False)
            finally:
                _set_memory_limit(None)
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
            if _out_of_memory(exc):  # also when wrapped (a flow step wraps every failure in its own error)
                answer = ("memory", str(exc), True)  # a worker that ran out may be left in a bad state
            else:
                answer = _error_payload(exc)
        # A worker still holding more than half its allowance after a call (allocator arenas, caches) retires, so
        # that the next call starts lean and the limit means the same on every worker.
        retire = answer[2] or bool(memory and _vm_size() > _base_vm + memory // 2)
        try:
            conn.send((answer[0], answer[1], retire))
        except MemoryError:
            conn.send(("memory", "the result was too big", True))
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
            conn.send((*_error_payload(exc)[:2], retire))
        if retire:
            return


_MEMORY_SIGNALS = (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS)

# --- in the caller ----------------------------------------------------------------------------------------------


@dataclass
class _Worker:
    process: Any
    conn: Connection
    calls: int = 0


@dataclass
class Sandbox:
    """A pool of `size` forkserver worker processes; `run()` is safe to call from many threads."""

    size: int = 2
    preload: Sequence[str] = ()
    max_calls: int = 200  # a worker is replaced after this many calls (caches and fragmentation stay bounded)
    start_timeout_s: float = 120.0
    _idle: queue.LifoQueue[_Worker] = field(default_factory=queue.LifoQueue, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _started: int = field(default=0, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    def _context(self) -> Any:
        ctx = multiprocessing.get_context("forkserver")
        if self.preload:
            ctx.set_forkserver_preload(list(self.preload))
        return ctx

    def _start_worker(self) -> _Worker:
        ctx = self._context()
        parent, child = ctx.Pipe(duplex=True)
        process = ctx.Process(
            target=_worker_main, args=(child, list(self.preload)), daemon=True, name="atelier-sandbox"
        )
        process.start()
        child.close()
        # Starting (and the forkserver's first imports) is not charged to a call's time limit: wait for "ready".
        if not parent.poll(self.start_timeout_s):
            process.kill()
            process.join(timeout=5)
            parent.close()
            raise SandboxCrashed(f"A sandbox worker did not start within {self.start_timeout_s:g} s.")
        try:
            parent.recv()
        except (EOFError, OSError):
            process.join(timeout=5)
            parent.close()
            raise SandboxCrashed(f"A sandbox worker died while starting (exit code {process.exitcode}).") from None
        return _Worker(process, parent)

    def warm(self) -> None:
        """Start the workers now (they are otherwise started on first use)."""
        with self._lock:
            while self._started < self.size:
                self._idle.put(self._start_worker())
                self._started += 1

    def _acquire(self, deadline: float) -> _Worker:
        with self._lock:
            if self._closed:
                raise SandboxError("The sandbox is shut down.")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                start = self._started < self.size
                if start:
                    self._started += 1  # the slot is ours; the worker starts outside the lock
        if start:
            try:
                return self._start_worker()
            except BaseException:
                with self._lock:
                    self._started -= 1
                raise
        try:
            return self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise SandboxBusy(
                f"All {self.size} sandbox workers stayed busy for the whole time limit; try again shortly."
            ) from None

    def _release(self, worker: _Worker) -> None:
        worker.calls += 1
        if worker.calls >= self.max_calls or self._closed:
            self._discard(worker)
            return
        self._idle.put(worker)

    def _discard(self, worker: _Worker) -> None:
        """Kill a worker (it may be stuck in native code) and let the next call start a fresh one."""
        try:
            worker.process.kill()
        except (OSError, ValueError):  # pragma: no cover - already gone
            pass
        worker.process.join(timeout=5)
        worker.conn.close()
        with self._lock:
            self._started -= 1

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout_s: float,
        memory_mb: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """`fn(*args, **kwargs)` in a worker: its result, its exception (rebuilt here), or a SandboxError.

        `fn` must be importable by name (a module-level function) and its arguments and result picklable.
        """
        request = ForkingPickler.dumps((fn, args, kwargs, int(memory_mb) * 1024 * 1024 if memory_mb else None))
        worker = self._acquire(time.monotonic() + timeout_s)
        deadline = time.monotonic() + timeout_s
        progress: str | None = None
        try:
            worker.conn.send_bytes(request)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not worker.conn.poll(remaining):
                    self._discard(worker)
                    raise SandboxTimeout(f"It took longer than {timeout_s:g} s and was stopped.", progress=progress)
                kind, payload, retire = worker.conn.recv()
                if kind != "progress":
                    break
                progress = payload
        except SandboxError:
            raise
        except (EOFError, OSError):
            worker.process.join(timeout=5)
            code = worker.process.exitcode
            self._discard(worker)
            if code is not None and code < 0 and -code in _MEMORY_SIGNALS:
                # The kernel's OOM killer, or native code aborting on a failed allocation under RLIMIT_AS.
                raise SandboxMemoryError(
                    f"It ran out of memory (limit {memory_mb} MB) and was stopped.", progress=progress
                ) from None
            raise SandboxCrashed(f"The worker process died (exit code {code}).", progress=progress) from None
        except BaseException:
            self._discard(worker)  # interrupted mid-call: the worker's state is unknown
            raise
        if retire:
            self._discard(worker)
        else:
            self._release(worker)
        if kind == "ok":
            return payload
        if kind == "memory":
            raise SandboxMemoryError(
                f"It needed more than {memory_mb} MB of memory and was stopped.", progress=progress
            )
        raise _rebuild(payload, progress)

    def close(self) -> None:
        """Kill every idle worker; busy ones are killed when their call ends."""
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(worker)


def _rebuild(payload: Any, progress: str | None) -> BaseException:
    data, type_name, message, text = payload
    if data is not None:
        try:
            cls, args, state = pickle.loads(data)  # noqa: S301 - written by our own worker process
            exc = cls.__new__(cls)
            exc.args = args
            if state:
                exc.__dict__.update(state)
            str(exc)  # an exception whose state did not survive would fail here rather than later
            return exc
        except Exception:  # noqa: BLE001, S110 - fall back to the name and the message
            pass
    return RemoteError(f"{type_name}: {message}", type_name=type_name, remote_traceback=text, progress=progress)


_shared: dict[tuple[Any, ...], Sandbox] = {}
_shared_lock = threading.Lock()


def shared_sandbox(name: str, *, size: int, preload: Sequence[str] = ()) -> Sandbox:
    """One sandbox per name and size in this process (built on first use)."""
    key = (name, size, tuple(preload))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Sandbox(size=size, preload=tuple(preload))
        return _shared[key]
