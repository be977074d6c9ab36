"""A few model objects, lent to one thread at a time.

OpenCV networks and LiteRT interpreters keep scratch state and are not thread-safe, so each call
needs an object of its own. One object per thread (as before) grew with the server's thread pool:
every request thread that ever ran a model loaded its own copies (2-2.7 GB under load), and a first
load held up the request that triggered it. A pool holds at most ``size`` objects (the engine's
worker count: more cannot run at once on that many cores anyway); the first is made at start, so a
broken model file stops the service there, and the others when concurrency first needs them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class ModelPool(Generic[T]):
    def __init__(self, factory: Callable[[], T], size: int) -> None:
        self._factory = factory
        self._size = max(1, size)
        self._free: list[T] = [factory()]
        self._made = 1
        self._changed = threading.Condition()

    @property
    def made(self) -> int:
        return self._made

    @contextmanager
    def use(self) -> Iterator[T]:
        """An object for the caller alone until the block ends; waits while all ``size`` are lent.
        Never nest two ``use`` of one pool in a thread: with every object lent, it would wait on itself."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._free) or self._made < self._size)
            obj = self._free.pop() if self._free else None  # the last returned: its memory is warm
            if obj is None:
                self._made += 1
        if obj is None:
            try:
                obj = self._factory()
            except BaseException:
                with self._changed:
                    self._made -= 1
                    self._changed.notify()
                raise
        try:
            yield obj
        finally:
            with self._changed:
                self._free.append(obj)
                self._changed.notify()
