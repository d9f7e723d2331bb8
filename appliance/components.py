"""Readiness of the parts the lifespan starts (database, models, indexer, ...)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class ComponentState:
    ready: bool
    detail: str


class Components:
    """Thread-safe registry: a component is registered as starting, then marked ready or failed.

    ``/readyz`` is 200 only when every registered component is ready.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, ComponentState] = {}
        self._live: dict[str, Callable[[], str] | None] = {}

    def starting(self, name: str, detail: str = "starting") -> None:
        with self._lock:
            self._live[name] = None
            self._states[name] = ComponentState(False, detail)

    def ready(self, name: str, detail: str | Callable[[], str] = "ready") -> None:
        """Mark ``name`` ready; ``detail`` may be a function, called at each snapshot, for a
        detail that changes while it stays ready (how many chunks are indexed)."""
        with self._lock:
            self._live[name] = detail if callable(detail) else None
            self._states[name] = ComponentState(True, detail if isinstance(detail, str) else "")

    def failed(self, name: str, detail: str) -> None:
        with self._lock:
            self._live[name] = None
            self._states[name] = ComponentState(False, f"failed: {detail}")

    def snapshot(self) -> dict[str, ComponentState]:
        with self._lock:
            states = dict(self._states)
            live = {n: f for n, f in self._live.items() if f is not None}
        for name, detail in live.items():
            if states[name].ready:
                states[name] = ComponentState(True, detail())
        return states

    def all_ready(self) -> bool:
        return all(s.ready for s in self.snapshot().values())
