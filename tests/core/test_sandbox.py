"""The process sandbox (apps.core.sandbox): real forkserver workers, real kills, real memory limits."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from apps.core.sandbox import (
    RemoteError,
    Sandbox,
    SandboxMemoryError,
    SandboxTimeout,
    report,
)

pytestmark = pytest.mark.timeout(120)


class Refused(ValueError):
    def __init__(self, step: str, message: str) -> None:  # not rebuildable from args alone
        super().__init__(message)
        self.step = step
        self.message = message


def add(a: int, b: int) -> tuple[int, int]:
    return a + b, os.getpid()


def spin(label: str) -> None:
    report(label)
    while True:  # pure CPU, never returns
        pass


def allocate(megabytes: int) -> int:
    report("allocating")
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def refuse(step: str) -> None:
    raise Refused(step, f"step {step} refused the input")


class Opaque(Exception):
    pass


def fail_opaquely() -> None:
    exc = Opaque("a message from the child")
    exc.lock = threading.Lock()  # type: ignore[attr-defined]  # state that cannot travel between processes
    raise exc


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(size=1)
    yield box
    box.close()


def test_returns_the_result_from_another_process(sandbox: Sandbox) -> None:
    total, pid = sandbox.run(add, 2, b=3, timeout_s=30)
    assert total == 5 and pid != os.getpid()
    assert sandbox.run(add, 1, 1, timeout_s=30)[1] == pid  # the worker is reused


def test_timeout_kills_the_worker_and_names_the_last_progress_and_the_next_call_works(sandbox: Sandbox) -> None:
    _, first_pid = sandbox.run(add, 0, 0, timeout_s=30)
    started = time.monotonic()
    with pytest.raises(SandboxTimeout, match=r"longer than 0\.5 s") as caught:
        sandbox.run(spin, "step s7", timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert caught.value.progress == "step s7"
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)  # the spinning worker is gone
    total, pid = sandbox.run(add, 20, 22, timeout_s=30)  # a fresh worker answers
    assert total == 42 and pid != first_pid


def test_memory_limit_stops_an_allocation_and_the_next_call_works(sandbox: Sandbox) -> None:
    assert sandbox.run(allocate, 20, timeout_s=30, memory_mb=200) == 20 * 1024 * 1024
    with pytest.raises(SandboxMemoryError, match="200 MB") as caught:
        sandbox.run(allocate, 400, timeout_s=30, memory_mb=200)
    assert caught.value.progress == "allocating"
    assert sandbox.run(add, 1, 2, timeout_s=30)[0] == 3


def test_exceptions_come_back_with_their_type_and_state(sandbox: Sandbox) -> None:
    with pytest.raises(Refused) as caught:
        sandbox.run(refuse, "s3", timeout_s=30)
    assert caught.value.step == "s3" and caught.value.message == "step s3 refused the input"
    with pytest.raises(RemoteError, match="Opaque: a message from the child") as remote:
        sandbox.run(fail_opaquely, timeout_s=30)
    assert "fail_opaquely" in remote.value.remote_traceback
    assert sandbox.run(add, 2, 2, timeout_s=30)[0] == 4  # an exception does not cost the worker


def test_the_overhead_of_a_call_is_small(sandbox: Sandbox) -> None:
    sandbox.run(add, 0, 0, timeout_s=30)
    started = time.perf_counter()
    for _ in range(20):
        sandbox.run(add, 1, 1, timeout_s=30)
    assert (time.perf_counter() - started) / 20 < 0.05
