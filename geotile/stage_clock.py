"""Where a pipeline's time goes: seconds per stage, summed over the threads running it.

predict reads and decodes, normalises and stacks, runs the model, blends and encodes in
threads that overlap; each stage's busy time, set beside the wall time, shows which one
bounds the run (on a GPU: ``model`` against the total is the share of time the device was
given work).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

#: the stages predict reports, in pipeline order
PREDICT_STAGES = ("decode", "normalise", "model", "blend", "encode")


class StageClock:
    """Seconds per stage; safe to add to from several threads."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds

    @contextlib.contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        """Time the block as ``stage`` (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def timed(self, stage: str, function: Callable) -> Callable:
        """``function``, each call timed as ``stage``."""
        def call(*args, **kwargs):
            with self.timing(stage):
                return function(*args, **kwargs)
        return call

    def seconds(self, stages=PREDICT_STAGES) -> dict[str, float]:
        """``{stage: seconds}`` for ``stages`` (0 for one never timed), rounded to µs."""
        with self._lock:
            return {stage: round(self._seconds.get(stage, 0.0), 6) for stage in stages}

    def describe(self, stages=PREDICT_STAGES) -> str:
        """``decode 1.2 s, normalise 0.3 s, ...`` for a log line."""
        return ", ".join(f"{stage} {value:.1f} s" for stage, value in self.seconds(stages).items())
