"""The face-attempt lockout: failures inside the window lock the account or the device for the
lock's duration; older failures do not count; the lock ends on time."""

from __future__ import annotations

import datetime as dt

import pytest

from facetrust.errors import DomainError
from facetrust.security import lockout
from facetrust.security.lockout import LockoutPolicy
from facetrust.security.models import Lockout
from facetrust.store.db import make_engine, session_factory
from facetrust.store.migrate import upgrade

POLICY = LockoutPolicy(5, dt.timedelta(minutes=3), dt.timedelta(minutes=30))
T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture()
def session(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    with session_factory(engine)() as s:
        yield s
    engine.dispose()


def fail(session, at, account="acc", device=None) -> bool:
    return lockout.record_failure(session, POLICY, "face_verification", account, device, at)


def test_five_failures_inside_three_minutes_lock_for_thirty(session):
    assert not any(fail(session, T0 + dt.timedelta(seconds=30 * i)) for i in range(4))
    lockout.check(session, "acc", None, T0 + dt.timedelta(minutes=2))  # four: still open
    assert fail(session, T0 + dt.timedelta(minutes=2, seconds=30))
    with pytest.raises(DomainError) as refused:
        lockout.check(session, "acc", None, T0 + dt.timedelta(minutes=3))
    assert refused.value.status == 429 and refused.value.code == "face_attempts_locked"
    lockout.check(session, "other", None, T0 + dt.timedelta(minutes=3))  # other accounts are not affected
    lockout.check(session, "acc", None, T0 + dt.timedelta(minutes=32, seconds=31))  # the lock has ended


def test_failures_spread_beyond_the_window_do_not_lock(session):
    assert not any(fail(session, T0 + dt.timedelta(minutes=1, seconds=i * 50)) for i in range(10))
    lockout.check(session, "acc", None, T0 + dt.timedelta(minutes=10))


def test_one_device_trying_many_accounts_is_locked(session):
    for i in range(5):
        fail(session, T0 + dt.timedelta(seconds=i), account=f"acc{i}", device="kiosk-7")
    with pytest.raises(DomainError):
        lockout.check(session, "fresh-account", "kiosk-7", T0 + dt.timedelta(seconds=10))
    lockout.check(session, "acc0", None, T0 + dt.timedelta(seconds=10))  # each account failed once only


def test_a_machine_is_never_locked_but_cools_down_with_backoff(session):
    """A vending machine's failures (any number, any accounts) set no lock; after five inside the
    window (as many as lock an account) it cools down 5 s, doubling with each further failure, at
    most 60 s, from its last one."""
    machine = "terminal:t-1"
    for i in range(10):
        fail(session, T0 + dt.timedelta(seconds=i), account=None, device=machine)
    assert session.query(Lockout).count() == 0
    assert [POLICY.cooldown(n) for n in range(4, 11)] == [None] + [
        dt.timedelta(seconds=s) for s in (5, 10, 20, 40, 60, 60)
    ]
    with pytest.raises(DomainError) as refused:
        lockout.check(session, None, machine, T0 + dt.timedelta(seconds=30), POLICY)
    assert refused.value.status == 429 and refused.value.code == "terminal_cooling_down"
    assert refused.value.extra["retry_after_seconds"] == 39  # 60 s from the last failure, at 9 s
    lockout.check(session, None, machine, T0 + dt.timedelta(seconds=69), POLICY)  # cooled down
    lockout.check(session, None, machine, T0 + dt.timedelta(seconds=30))  # without a policy: no lock either
