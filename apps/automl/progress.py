"""What a running Canvas build shows: one snapshot (progress, message, trial count, best score, best-score series)
from which the job's progress and message and the build's counters are all written together.

Plain module: no Django. Progress follows the time budget (elapsed / budget), never goes back, and stays below
the end until the engine says it is done; the message is made from the same trial count and best score as the
counters beside it, so the two never disagree.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

LIVE_END = 0.99  # progress while the engine runs stays below this (the refit may overrun the budget a little)


@dataclass(frozen=True)
class Snapshot:
    fraction: float  # 0..1 of the engine's run (1.0 only once it is done)
    message: str
    trials: int
    best: float | None
    history: list[list[float]]  # [[seconds, best score so far], ...]


def snapshot_message(phase: str, trials: int, best: float | None, objective: str) -> str:
    text = f"{phase} · {trials} trial{'' if trials == 1 else 's'} done"
    if best is not None:
        text += f" · best {objective} {best:.4f}"
    return text


@dataclass
class LiveBuild:
    budget_s: float
    objective: str
    clock: float = field(default_factory=time.monotonic)  # when the engine's budget started
    phase: str = "Starting"
    trials: int = 0
    best: float | None = None
    history: list[list[float]] = field(default_factory=list)
    done: bool = False
    _fraction: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def elapsed(self, now: float | None = None) -> float:
        return max(0.0, (time.monotonic() if now is None else now) - self.clock)

    def report(self, message: str, best: float | None, trials: int, *, done: bool = False) -> None:
        """An engine progress report: its phase, the best score so far (natural units) and the trials finished."""
        with self._lock:
            self.phase = message
            self.trials = max(self.trials, int(trials or 0))
            if best is not None and best != self.best:
                self.best = float(best)
                self.history.append([round(self.elapsed(), 2), round(self.best, 6)])
            self.done = self.done or done

    def finish(self, score: float | None, trials: int, phase: str) -> None:
        """The final model's score (the ensemble or refit scored out of fold): the series ends on it."""
        with self._lock:
            self.phase, self.done = phase, True
            self.trials = max(self.trials, int(trials or 0))
            if score is not None:
                self.best = float(score)
                t = round(max(self.elapsed(), self.history[-1][0] if self.history else 0.0), 2)
                self.history.append([t, round(self.best, 6)])

    def snapshot(self, now: float | None = None) -> Snapshot:
        with self._lock:
            by_time = min(LIVE_END, self.elapsed(now) / self.budget_s) if self.budget_s > 0 else 0.0
            self._fraction = 1.0 if self.done else max(self._fraction, by_time)
            return Snapshot(
                fraction=self._fraction,
                message=snapshot_message(self.phase, self.trials, self.best, self.objective),
                trials=self.trials,
                best=self.best,
                history=[list(p) for p in self.history[-500:]],
            )
