"""Progress bars that cost nothing when off.

tqdm starts a monitor thread with its first bar, even a disabled one; that thread would keep
:mod:`geotile.band_workers` from forking for the rest of the process. Without ``enabled``,
tqdm is neither imported nor started; with it, the bar starts no monitor, and the
multiprocessing start method that tqdm's first lock fixes is left unset again (the caller may
still choose it).
"""

from __future__ import annotations

from collections.abc import Iterable


class _Silent:
    """What the loops use of a bar: iteration, update(), close(), ``with``."""

    def __init__(self, items: Iterable | None) -> None:
        self.items = items if items is not None else ()

    def __iter__(self):
        return iter(self.items)

    def update(self, count: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_bar(items: Iterable | None = None, enabled: bool = False, **options):
    """``items`` in a tqdm bar (``options``: desc, unit, total...) when ``enabled``, else
    an object that iterates over them and ignores update() and close()."""
    if not enabled:
        return _Silent(items)
    import multiprocessing

    from tqdm import tqdm

    class Bar(tqdm):
        monitor_interval = 0  # no thread left running after the call

    unset = multiprocessing.get_start_method(allow_none=True) is None
    bar = Bar(items, **options)
    if unset and multiprocessing.get_start_method(allow_none=True) is not None:
        multiprocessing.set_start_method(None, force=True)  # as the caller had it
    return bar
