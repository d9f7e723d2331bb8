"""Progress of a long step (import, fetch, index, restore, database copy) on stderr.

On a terminal one line is redrawn in place; elsewhere (a log file, CI, a service manager) a
plain line is written every ``interval`` seconds and at the end, so a long run still shows a
timeline without flooding the log. stdout is never touched: it carries the command's data.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

MB = 1_000_000


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """``label: done/total unit (pct), rate, ETA`` for one measure, plus free text.

    ``scale`` divides the raw counts for display (``MB`` for bytes). Disabled (``enabled=
    False``, e.g. under ``--json``) it prints nothing.
    """

    def __init__(
        self,
        label: str,
        total: float | None = None,
        unit: str = "",
        *,
        scale: float = 1,
        enabled: bool = True,
        interval: float = 5.0,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.scale = scale
        self.enabled = enabled
        self.interval = interval
        self._stream = stream
        self.done = 0.0
        self.extra = ""
        self.started = time.monotonic()
        self._last_line = float("-inf")
        self._drawn = False

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    @property
    def live(self) -> bool:
        """Redrawn in place (a terminal) rather than written as timed lines."""
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def _amount(self, value: float) -> str:
        shown = value / self.scale
        return f"{shown:.1f}" if self.scale != 1 else f"{shown:.0f}"

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{self.label}:"]
        if self.total:
            pct = 100.0 * self.done / self.total
            parts.append(
                f"{self._amount(self.done)}/{self._amount(self.total)} {self.unit} ({pct:.0f}%)"
            )
        else:
            parts.append(f"{self._amount(self.done)} {self.unit}")
        if elapsed >= 1 and self.done > 0:
            rate = self.done / self.scale / elapsed
            parts.append(f"{rate:.1f} {self.unit}/s")
            if self.total and self.done < self.total:
                parts.append(f"ETA {duration((self.total - self.done) * elapsed / self.done)}")
        text = ", ".join([" ".join(parts[:2]), *parts[2:]])
        return f"{text}, {self.extra}" if self.extra else text

    def update(self, done: float, *, total: float | None = None, extra: str | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if extra is not None:
            self.extra = extra
        self._show(final=False)

    def advance(self, amount: float = 1, *, extra: str | None = None) -> None:
        self.update(self.done + amount, extra=extra)

    def clear(self) -> None:
        """Erase the live line (before printing something else to the terminal)."""
        if self.enabled and self.live and self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False

    def finish(self, extra: str | None = None) -> None:
        """The last line, whatever the interval; ends the live line."""
        if extra is not None:
            self.extra = extra
        self._show(final=True)

    def _show(self, *, final: bool) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.live:
            self.stream.write("\r\033[K" + self.line() + ("\n" if final else ""))
            self._drawn = not final
        elif final or now - self._last_line >= self.interval:
            if not final and now - self.started < self.interval:
                return  # a step that ends within the interval prints only its last line
            self.stream.write(self.line() + "\n")
            self._last_line = now
        else:
            return
        self.stream.flush()
