"""Turns: whole jobs in arrival order, one at a time."""

from __future__ import annotations

import threading
import time

from facetrust.biometrics.turns import Turns


def test_jobs_take_turns_in_the_order_they_arrived():
    turns, order, inside = Turns(), [], []
    first_in = threading.Event()

    def job(name: str, started: threading.Event | None = None) -> None:
        with turns.turn():
            if started:
                started.set()
            inside.append(name)
            assert len(inside) == 1, "two jobs held a turn at once"
            time.sleep(0.05)
            order.append(name)
            inside.remove(name)

    holder = threading.Thread(target=job, args=("first", first_in))
    holder.start()
    first_in.wait(5)
    waiters: list[threading.Thread] = []
    for n in range(6):  # each asks once the ones before it are waiting
        waiters.append(threading.Thread(target=job, args=(f"w{n}",)))
        waiters[-1].start()
        deadline = time.monotonic() + 5
        while turns.queued < n + 2 and time.monotonic() < deadline:
            time.sleep(0.001)
    for t in [holder, *waiters]:
        t.join(5)
    assert turns.queued == 0
    assert order == ["first"] + [f"w{n}" for n in range(6)]


def test_a_job_that_fails_still_gives_up_its_turn():
    turns = Turns()
    try:
        with turns.turn():
            raise ValueError("the job failed")
    except ValueError:
        pass
    done = threading.Event()
    threading.Thread(target=lambda: (turns.turn().__enter__(), done.set())).start()
    assert done.wait(5)
