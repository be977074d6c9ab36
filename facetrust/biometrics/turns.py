"""One job at a time, in the order they arrived: a ticket lock.

A capture's analysis is several rounds of work on the engine's workers (the frames, then the
texture check). When concurrent captures interleave their rounds, every one of them shares the
cores with every other and all finish late together; taking turns, the first to arrive finishes
first and the mean wait is lower for the same work. ``threading.Lock`` makes no promise of order,
so waiters take numbered tickets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Turns:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    @property
    def queued(self) -> int:
        """Jobs holding or waiting for a turn."""
        with self._changed:
            return self._next_ticket - self._serving

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._changed.wait_for(lambda: self._serving == ticket)
        try:
            yield
        finally:
            with self._changed:
                self._serving += 1
                self._changed.notify_all()
