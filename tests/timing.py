"""Timing a piece of work that may never finish (e.g. a backtracking regular expression holding the GIL).

The work runs in a forked child: the test reads its duration through a pipe and kills it at a hard cap, so a
regression fails after a few seconds instead of hanging the suite.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable


def fork_elapsed(fn: Callable[[], object], cap: float, expected: tuple[type[BaseException], ...] = ()) -> float:
    """Seconds ``fn`` took in a forked child (exceptions in ``expected`` count as finishing); ``cap`` when it
    was still running at ``cap``."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:
        started = time.perf_counter()
        try:
            fn()
        except expected:
            pass
        send.send(time.perf_counter() - started)

    process = context.Process(target=child)
    process.start()
    try:
        if receive.poll(cap):
            return float(receive.recv())
        return cap
    finally:
        process.kill()
        process.join()


def assert_fast(
    fn: Callable[[], object], limit: float = 0.5, cap: float = 5.0, expected: tuple[type[BaseException], ...] = ()
) -> None:
    elapsed = fork_elapsed(fn, cap, expected)
    assert elapsed < limit, f"took {elapsed:.2f} s (limit {limit} s; stopped at {cap} s)"
