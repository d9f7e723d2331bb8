"""Readiness of the parts the lifespan starts (database, models, indexer, ...)."""

from __future__ import annotations

import threading
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

    def starting(self, name: str, detail: str = "starting") -> None:
        with self._lock:
            self._states[name] = ComponentState(False, detail)

    def ready(self, name: str, detail: str = "ready") -> None:
        with self._lock:
            self._states[name] = ComponentState(True, detail)

    def failed(self, name: str, detail: str) -> None:
        with self._lock:
            self._states[name] = ComponentState(False, f"failed: {detail}")

    def snapshot(self) -> dict[str, ComponentState]:
        with self._lock:
            return dict(self._states)

    def all_ready(self) -> bool:
        return all(s.ready for s in self.snapshot().values())
