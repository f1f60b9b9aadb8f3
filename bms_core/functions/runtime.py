"""What a function invocation takes from its process: settings, the clock, the manifest store,
the burst queue, the burst progress store, and how new bursts are named.

The handlers take each of these as a parameter and default to this process's :class:`Runtime`
(:func:`current`): in Azure the app settings of the environment, the wall clock, and burst
manifests in Table storage on ``AzureWebJobsStorage`` (and the burst queue and progress table
there), each made on first use and kept.

A process that runs the app under other conditions builds one :class:`Runtime` and runs
invocations inside :func:`running`; ``python -m bms_local demo`` does so with a simulated clock.
This is the one process-wide seam: it is a context variable, so each thread (and each
invocation the local runner wraps) sees its own runtime and nothing is swapped behind another
thread's back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bms_core.functions.clock import wall_ms

if TYPE_CHECKING:
    from bms_core.functions.settings import Settings


class Runtime:
    """Settings read from ``env`` (``None``: the process environment), a clock, manifests.

    ``settings`` is read and checked on first use and then kept; a broken setting raises
    :class:`bms_core.functions.settings.SettingsError` on every use until it is fixed.
    ``manifests`` defaults to a :class:`bms_core.functions.bursts.ManifestStore` on the settings'
    storage connection. ``burst_ids`` names each new burst: random
    (:func:`bms_core.traffic.orderid.new_burst_id`) unless a runner needs repeatable names (the
    demo, whose report must be the same on every run).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], int] = wall_ms,
        manifests: Any = None,
        burst_queue: Any = None,
        burst_progress: Any = None,
        burst_ids: Callable[[], str] | None = None,
    ) -> None:
        self.env = env
        self.clock = clock
        self._burst_ids = burst_ids
        self._manifests = manifests
        self._burst_queue = burst_queue
        self._burst_progress = burst_progress
        self._lock = threading.Lock()

    @cached_property
    def settings(self) -> Settings:
        from bms_core.functions.settings import Settings

        return Settings.from_env(os.environ if self.env is None else self.env)

    def new_burst_id(self) -> str:
        """A name for a new burst (checked to be a burst id)."""
        from bms_core.traffic import orderid

        if self._burst_ids is None:
            return orderid.new_burst_id()
        return orderid.check_burst_id(self._burst_ids())

    @property
    def manifests(self) -> Any:
        """The burst manifest store (made on first use)."""
        with self._lock:
            if self._manifests is None:
                from bms_core.functions.bursts import ManifestStore

                self._manifests = ManifestStore(self.settings.require_storage())
            return self._manifests

    @property
    def burst_queue(self) -> Any:
        """The queue fanned-out bursts' work items go to (made on first use)."""
        with self._lock:
            if self._burst_queue is None:
                from bms_core.flash import StorageWorkQueue

                self._burst_queue = StorageWorkQueue(self.settings.require_storage())
            return self._burst_queue

    @property
    def burst_progress(self) -> Any:
        """The fanned-out bursts' progress store (made on first use)."""
        with self._lock:
            if self._burst_progress is None:
                from bms_core.flash import TableProgressStore

                self._burst_progress = TableProgressStore(self.settings.require_storage())
            return self._burst_progress


_process: Runtime | None = None
_process_lock = threading.Lock()
_active: ContextVar[Runtime | None] = ContextVar("bms_runtime", default=None)


def current() -> Runtime:
    """The runtime of the running invocation: the one :func:`running` set, else the process's."""
    active = _active.get()
    if active is not None:
        return active
    global _process
    with _process_lock:
        if _process is None:
            _process = Runtime()
        return _process


@contextmanager
def running(runtime: Runtime) -> Iterator[Runtime]:
    """Within the block (in this thread or task only), :func:`current` is ``runtime``."""
    token = _active.set(runtime)
    try:
        yield runtime
    finally:
        _active.reset(token)
