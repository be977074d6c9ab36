"""The model pool lends each object to one thread at a time and never makes more than its size."""

from __future__ import annotations

import threading
import time

import pytest

from facetrust.biometrics.modelpool import ModelPool


def test_the_first_object_is_made_at_start_and_a_broken_factory_fails_there():
    made = []
    pool = ModelPool(lambda: made.append(1) or len(made), 3)
    assert made == [1] and pool.made == 1

    def broken():
        raise ValueError("unreadable model")

    with pytest.raises(ValueError, match="unreadable"):
        ModelPool(broken, 2)


def test_concurrent_callers_share_at_most_size_objects_each_held_by_one_caller():
    pool = ModelPool(object, 2)
    holders: dict[int, int] = {}
    clash = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(50):
            with pool.use() as obj:
                with lock:
                    if id(obj) in holders:
                        clash.append(id(obj))
                    holders[id(obj)] = threading.get_ident()
                time.sleep(0.0005)
                with lock:
                    del holders[id(obj)]

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clash == [] and pool.made == 2


def test_an_object_that_cannot_be_made_later_frees_its_place():
    calls = []

    def factory():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return object()

    pool = ModelPool(factory, 2)
    with pool.use():  # the first object is lent, so the next caller makes a second: which fails
        with pytest.raises(RuntimeError):
            with pool.use():
                pass
        assert pool.made == 1
        with pool.use() as third:  # the place is free again: a new object is made
            assert third is not None
    assert pool.made == 2
