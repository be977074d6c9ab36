"""`facetrust simulate`: how well the risk engine catches fraud, and how often it bothers honest
people, measured on a simulated population run through the real engine.

The population: one tenant; normal users with a home city (around real Chinese cities), one or two
stable phones, a home IP (and the carrier's shared mobile IPs), real-name authentication passed
long ago (a few joined recently), a face-pay enrolment of their own face, a credit line for most;
shops and canteens with locations, electronics stores, online installment merchants without one,
hotels; terminals. 90 days of history before the window are bulk-loaded (completed payments,
logins, installments and their repayments), so the window does not start with everyone looking new.

The window (``--days``) is simulated in time order, every actor's events merged on one clock
(``EventIn.at``; nothing reads the wall clock): logins, face payments at mostly usual nearby
shops (log-normal amounts, lunch at canteens, shopping sprees), refunds, installments with mixed
terms (24 months for phones is common) and their repayments (some late), loans, a new phone now
and then followed by ordinary use (sometimes a credit draw from it), a failed liveness before a
pass, trips to other cities (a hotel, shops new to the traveller), families sharing a tablet and
an address, new users buying a phone on installments near their small limit. These are the honest
look-alikes of every fraud pattern, at plausible rates, so the false-positive figure means something.

Labelled fraud scenarios (``--scenarios`` per typology, each with its own actors, at random times)
are injected, each drawn with random counts, amounts and timings, about a quarter of them by a
more careful fraudster; they are written the way a fraudster would act, not from the rule file.
Every event goes through the real engine and the simulation obeys the decisions the way the flows
do: a frozen account moves no money, a refused draw is not completed, ``step_up`` asks for a fresh
face check that a genuine user passes and a fraudster without the victim's face fails (a failed
face_verification event, which is decided on too).

The report, per typology: scenarios, detected (a non-approve decision naming any typology on one
of the scenario's fraudulent events), the typologies that fired, the money that still moved, and
the time from the first fraudulent event to the freeze of the first of its accounts; for normal
users: the false-positive rate (any review, decline or freeze), the step-up rate, the decisions,
and which behaviours and typologies the false positives came from.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import math
import os
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TYPOLOGIES = (
    "velocity_burst",
    "new_device_high_amount",
    "shared_device_or_identity",
    "bust_out",
    "installment_cashout_merchant",
    "repeated_face_failures",
    "unusual_location",
)
# Where each typology's clock (minutes to detection, to freeze) starts: its first fraudulent event.
CLOCK_STARTS = {
    "velocity_burst": "the first payment or loan of the burst",
    "new_device_high_amount": "the thief's first login on the new device",
    "shared_device_or_identity": "the real-name authentication of the farm's first account",
    "bust_out": "the real-name authentication of the account (the build-up is part of the fraud)",
    "installment_cashout_merchant": "the first installment order at the colluding merchant",
    "repeated_face_failures": "the first failed attempt",
    "unusual_location": "the first far payment",
}
TARGET_DETECTION = 0.95
TARGET_FALSE_POSITIVE = 0.005
REFUSED = ("review", "decline", "freeze")

DAY = 86400.0
HOUR = 3600.0
MINUTE = 60.0
HISTORY_DAYS = 90
# Local midnight (UTC+8) of the window's first day, as a UTC instant; simulated times are seconds from it.
EPOCH = dt.datetime(2025, 3, 2, 16, 0, tzinfo=dt.UTC)

CITIES = {  # centre (lat, lon)
    "shanghai": (31.2304, 121.4737),
    "beijing": (39.9042, 116.4074),
    "guangzhou": (23.1291, 113.2644),
    "shenzhen": (22.5431, 114.0579),
    "chengdu": (30.5728, 104.0668),
    "hangzhou": (30.2741, 120.1551),
    "wuhan": (30.5928, 114.3055),
    "xian": (34.3416, 108.9398),
}
CITY_WEIGHTS = {
    "shanghai": 1.6,
    "beijing": 1.6,
    "guangzhou": 1.2,
    "shenzhen": 1.2,
    "chengdu": 1.0,
    "hangzhou": 0.8,
    "wuhan": 0.8,
    "xian": 0.6,
}
# Installment merchants: category -> (amount range in yuan, weights of 3/6/12/24 periods)
CATEGORIES = {
    "phones": ((1500, 9000), (0.10, 0.20, 0.30, 0.40)),
    "electronics": ((1000, 15000), (0.20, 0.25, 0.30, 0.25)),
    "appliances": ((800, 12000), (0.25, 0.30, 0.30, 0.15)),
    "furniture": ((1500, 20000), (0.20, 0.25, 0.35, 0.20)),
    "gift_cards": ((200, 2000), (0.50, 0.30, 0.15, 0.05)),
}
PERIODS = (3, 6, 12, 24)
LIQUID = ("phones", "gift_cards", "electronics")


def yuan(x: float) -> int:
    return int(round(x * 100))


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def near(rng: random.Random, centre: tuple[float, float], km_sd: float) -> tuple[float, float]:
    lat, lon = centre
    return (lat + rng.gauss(0, km_sd) / 111.0, lon + rng.gauss(0, km_sd) / (111.0 * math.cos(math.radians(lat))))


def hexid(rng: random.Random, n: int = 32) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


# --- the population ---------------------------------------------------------------------------


@dataclass(eq=False)
class Merchant:
    id: str
    name: str
    kind: str  # shop | canteen | store | online | hotel | colluding
    city: str | None
    loc: tuple[float, float] | None
    terminals: list[str]
    category: str | None = None  # installment merchants


@dataclass(eq=False)
class Plan:
    ref: str
    amount_fen: int
    periods: int
    left_fen: int
    paid: int = 0
    next_due: float | None = None  # a plan from before the window: when its next installment falls due


@dataclass(eq=False)
class User:
    id: str
    group: str  # normal | victim | accomplice | fraud
    city: str
    home: tuple[float, float]
    devices: list[str]
    home_ip: str
    address: str
    face_key: str
    pay_rate: float
    amount_mu: float  # log of the median payment, yuan
    joined: float  # simulated seconds (negative: before the window)
    real_name_at: float
    limit_fen: int = 0
    used_fen: int = 0
    usual: list[Merchant] = field(default_factory=list)
    usual_w: list[float] = field(default_factory=list)
    canteen: Merchant | None = None
    family_device: str | None = None
    late_payer: bool = False
    credit_room: bool = False  # a victim whose credit a thief will draw on: its history leaves most of the line free
    life_until: float = math.inf  # victims and accomplices: their own life is simulated until their scenario is over
    plans: list[Plan] = field(default_factory=list)
    # the window's life events: day -> list of behaviour names
    plan: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    trip: tuple[int, int, str] | None = None  # first day, days, city

    @property
    def available_fen(self) -> int:
        return max(0, self.limit_fen - self.used_fen)

    @property
    def median_payment_fen(self) -> int:
        return yuan(math.exp(self.amount_mu))


@dataclass(eq=False)
class Scenario:
    id: str
    typology: str
    variant: str  # aggressive | careful
    params: dict
    accounts: list[str] = field(default_factory=list)
    first_at: float | None = None  # the first fraudulent event
    detected_at: float | None = None
    freeze_at: float | None = None
    decisions: Counter = field(default_factory=Counter)
    typologies: Counter = field(default_factory=Counter)
    attempted_out_fen: int = 0
    moved_out_fen: int = 0
    decision_ids: list[str] = field(default_factory=list)  # of its fraudulent events (the first 20)
    already_frozen: bool = False  # an account of it was frozen (for its holder's own doings) before the fraud began


@dataclass(frozen=True)
class Tag:
    """Who an event is about, for the report: a normal user's behaviour, a scenario's fraud, or
    neither (a victim's own life, an accomplice's ordinary life)."""

    kind: str  # normal | fraud | other
    user: User | None = None
    behaviour: str = ""
    scenario: Scenario | None = None


OTHER = Tag("other")


@dataclass
class Outcome:
    status: str  # completed | approve | step_up_failed | frozen | review | decline | freeze | no_credit
    ref: str | None = None
    decision: str | None = None


class World:
    """Everything the simulation knows about its actors, built before the window starts."""

    def __init__(self, rng: random.Random, n_users: int, n_scenarios: int, days: int) -> None:
        self.rng, self.days = rng, days
        self.users: list[User] = []
        self.by_id: dict[str, User] = {}
        self.merchants: list[Merchant] = []
        self.by_city: dict[str, dict[str, list[Merchant]]] = {c: defaultdict(list) for c in CITIES}
        self.online: list[Merchant] = []
        self.mobile_ips = {
            c: [f"10.{i}.{j}.{k}" for k in range(30) for j in [rng.randrange(256)]] for i, c in enumerate(CITIES)
        }
        self.scenarios: list[Scenario] = []
        self.scripts: list[tuple[float, Iterator]] = []
        self._n = 0
        self._build_merchants(n_users + n_scenarios * 8)

    def new_id(self) -> str:
        return hexid(self.rng)

    def ref(self) -> str:
        return hexid(self.rng)

    def device(self) -> str:
        self._n += 1
        return f"dev-{hexid(self.rng, 16)}"

    def ip(self) -> str:
        r = self.rng
        return f"{r.choice((36, 39, 58, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 119, 120, 121, 122, 123, 124, 125, 175, 180, 182, 183, 202, 203, 210, 211, 218, 219, 220, 221, 222, 223))}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def merchant(
        self,
        kind: str,
        city: str | None,
        loc: tuple[float, float] | None,
        name: str,
        category: str | None = None,
        terminals: int = 1,
    ) -> Merchant:
        m = Merchant(self.new_id(), name, kind, city, loc, [self.new_id() for _ in range(terminals)], category)
        self.merchants.append(m)
        if city:
            self.by_city[city][kind].append(m)
        return m

    def _build_merchants(self, people: int) -> None:
        r = self.rng
        total_w = sum(CITY_WEIGHTS.values())
        for city, centre in CITIES.items():
            residents = people * CITY_WEIGHTS[city] / total_w
            for i in range(max(8, int(residents / 10))):
                self.merchant("shop", city, near(r, centre, 7), f"{city} shop {i}", terminals=r.choice((1, 1, 2, 3)))
            for i in range(max(1, int(residents / 120))):
                self.merchant("canteen", city, near(r, centre, 5), f"{city} canteen {i}", terminals=2)
            for i in range(max(2, int(residents / 150))):
                cat = ("phones", "electronics", "appliances", "furniture")[i % 4]
                self.merchant("store", city, near(r, centre, 8), f"{city} {cat} store {i}", cat, terminals=2)
            for i in range(3):
                self.merchant("hotel", city, near(r, centre, 6), f"{city} hotel {i}", terminals=1)
        for i, cat in enumerate(
            ("phones", "electronics", "appliances", "furniture", "phones", "electronics", "gift_cards", "appliances")
        ):
            self.online.append(self.merchant("online", None, None, f"online {cat} {i}", cat, terminals=0))

    def nearest(self, loc: tuple[float, float], city: str, kind: str, n: int) -> list[Merchant]:
        return sorted(self.by_city[city][kind], key=lambda m: km(loc, m.loc))[:n]  # type: ignore[arg-type]

    def make_user(self, group: str, joined: float, credit_p: float = 0.8, city: str | None = None) -> User:
        r = self.rng
        city = city or r.choices(list(CITIES), weights=list(CITY_WEIGHTS.values()))[0]
        home = near(r, CITIES[city], 8)
        uid = self.new_id()
        devices = [self.device()] + ([self.device()] if r.random() < 0.3 else [])
        real_name_at = joined if joined >= -HISTORY_DAYS * DAY else joined
        u = User(
            uid,
            group,
            city,
            home,
            devices,
            self.ip(),
            f"{city} road {r.randrange(1, 999)} no {r.randrange(1, 300)} room {r.randrange(100, 3000)}",
            uid,
            pay_rate=math.exp(r.gauss(math.log(0.45), 0.6)),
            amount_mu=r.gauss(math.log(38), 0.45),
            joined=joined,
            real_name_at=real_name_at,
        )
        if r.random() < credit_p:
            new = joined > -60 * DAY
            u.limit_fen = yuan(
                r.choice((2000, 3000, 5000, 8000)) if new else r.choice((5000, 8000, 10000, 15000, 20000, 30000, 50000))
            )
        u.late_payer = r.random() < 0.08
        shops = self.nearest(home, city, "shop", 12)
        k = r.randint(3, min(8, len(shops)))
        u.usual = r.sample(shops, k)
        u.usual_w = [r.paretovariate(1.2) for _ in u.usual]
        canteens = self.by_city[city]["canteen"]
        if canteens and r.random() < 0.35:
            u.canteen = min(canteens, key=lambda m: km(home, m.loc))  # type: ignore[arg-type]
        self.users.append(u)
        self.by_id[u.id] = u
        return u


# --- the simulation ---------------------------------------------------------------------------


class Sim:
    """A clock, a queue of actions, and the real engine."""

    def __init__(
        self, world: World, session_maker: Any, risk_engine: Any, end: float, echo: Callable[[str], None]
    ) -> None:
        from facetrust.risk import engine as engine_mod
        from facetrust.risk.events import EventIn

        self.world, self.rng = world, world.rng
        self.sessions, self.engine, self.end, self.echo = session_maker, risk_engine, end, echo
        self.session = session_maker()
        self.EventIn, self.engine_mod = EventIn, engine_mod
        self.queue: list[tuple[float, int, Callable, tuple]] = []
        self._seq = 0
        self.now = 0.0
        self.frozen: set[str] = set()
        self.users = {u.id: u for u in world.users}
        self.decisions: Counter = Counter()
        self.normal_decisions: Counter = Counter()
        self.normal_users_flagged: dict[str, Counter] = {}
        self.normal_users_stepped_up: set[str] = set()
        self.fp_by_behaviour: Counter = Counter()
        self.fp_by_typology: Counter = Counter()
        self.fp_examples: list[dict] = []
        self.events = 0
        self.decided = 0
        self.decide_seconds = 0.0
        self.pending = 0

    # -- plumbing
    def at(self, t: float) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=t)

    def schedule(self, t: float, fn: Callable, *args: Any) -> None:
        if t >= self.end:
            return
        self._seq += 1
        heapq.heappush(self.queue, (t, self._seq, fn, args))

    def spawn(self, script: Iterator, result: Any = None, first: bool = True) -> None:
        """Advance a fraud script: it yields (time, action, kwargs) and is sent the action's result."""
        try:
            step = next(script) if first else script.send(result)
        except StopIteration:
            return
        t, action, kwargs = step
        self.schedule(max(t, self.now), self._script_step, script, action, kwargs)

    def _script_step(self, script: Iterator, action: Callable, kwargs: dict) -> None:
        self.spawn(script, action(**kwargs), first=False)

    def run(self, days: int) -> None:
        started, next_report = time.perf_counter(), 10 * DAY
        while self.queue:
            t, _, fn, args = heapq.heappop(self.queue)
            if t >= next_report:
                self.echo(
                    f"  day {int(t // DAY)}/{days}: {self.events} events, {self.decided} decisions, "
                    f"{time.perf_counter() - started:.0f} s"
                )
                next_report += 10 * DAY
            self.now = t
            fn(*args)
            self.pending += 1
            if self.pending >= 2000:
                self.flush()
        self.flush()

    def flush(self) -> None:
        self.session.commit()
        self.session.expunge_all()
        self.pending = 0

    # -- recording
    def emit(self, ev: Any) -> None:
        from facetrust.risk import events

        events.emit(self.session, ev)
        self.events += 1

    def decide(self, ev: Any, tag: Tag) -> Any:
        t0 = time.perf_counter()
        verdict = self.engine.decide(self.session, ev)
        self.decide_seconds += time.perf_counter() - t0
        self.events += 1
        self.decided += 1
        self.decisions[verdict.decision] += 1
        if verdict.decision == "freeze" and ev.account_id:
            self.frozen.add(ev.account_id)
        if tag.kind == "normal":
            self.normal_decisions[verdict.decision] += 1
            uid = tag.user.id  # type: ignore[union-attr]
            if verdict.decision == "step_up":
                self.normal_users_stepped_up.add(uid)
            if verdict.decision in REFUSED:
                first = uid not in self.normal_users_flagged
                self.normal_users_flagged.setdefault(uid, Counter())[verdict.decision] += 1
                if first:
                    self.fp_by_behaviour[tag.behaviour] += 1
                    for typ in verdict.typologies or ["(none)"]:
                        self.fp_by_typology[typ] += 1
                    if len(self.fp_examples) < 25:
                        self.fp_examples.append(
                            {
                                "decision_id": verdict.decision_id,
                                "kind": ev.kind,
                                "behaviour": tag.behaviour,
                                "decision": verdict.decision,
                                "typologies": verdict.typologies,
                                "reasons": verdict.reasons,
                                "amount_fen": ev.amount_fen,
                                "day": round(self.now / DAY, 2),
                            }
                        )
        elif tag.kind == "fraud":
            sc = tag.scenario
            sc.decisions[verdict.decision] += 1  # type: ignore[union-attr]
            if len(sc.decision_ids) < 20:  # type: ignore[union-attr]
                sc.decision_ids.append(verdict.decision_id)  # type: ignore[union-attr]
            for typ in verdict.typologies:
                sc.typologies[typ] += 1  # type: ignore[union-attr]
            if verdict.decision != "approve" and verdict.typologies and sc.detected_at is None:  # type: ignore[union-attr]
                sc.detected_at = self.now  # type: ignore[union-attr]
            if verdict.decision == "freeze" and sc.freeze_at is None:  # type: ignore[union-attr]
                sc.freeze_at = self.now  # type: ignore[union-attr]
        return verdict

    def fraud_started(self, tag: Tag) -> None:
        sc = tag.scenario
        if tag.kind == "fraud" and sc.first_at is None:  # type: ignore[union-attr]
            sc.first_at = self.now  # type: ignore[union-attr]
            sc.already_frozen = any(a in self.frozen for a in sc.accounts)  # type: ignore[union-attr]

    # -- what actors do (the flows' behaviour towards the engine)
    def login(self, user: User, device: str, ip: str, tag: Tag = OTHER) -> Outcome:
        self.fraud_started(tag)
        self.emit(self.EventIn("login", account_id=user.id, device_id=device, ip=ip, at=self.at(self.now)))
        return Outcome("completed")

    def real_name(self, user: User, tag: Tag = OTHER) -> Outcome:
        self.fraud_started(tag)
        self.emit(
            self.EventIn(
                "real_name", account_id=user.id, outcome="passed", data={"method": "simulated"}, at=self.at(self.now)
            )
        )
        return Outcome("completed")

    def enrol(self, user: User, device: str, tag: Tag = OTHER) -> Outcome:
        self.fraud_started(tag)
        self.emit(
            self.EventIn(
                "face_pay.enrol", account_id=user.id, device_id=device, face_key=user.face_key, at=self.at(self.now)
            )
        )
        return Outcome("completed")

    def face_attempt(
        self, kind: str, user: User, device: str | None, passed: bool, purpose: str, tag: Tag = OTHER
    ) -> Outcome:
        """engine.face_attempt: a pass is recorded, a failure decided on."""
        self.fraud_started(tag)
        ev = self.EventIn(
            kind,
            account_id=user.id,
            device_id=device,
            outcome="passed" if passed else "failed",
            data={"purpose": purpose},
            at=self.at(self.now),
        )
        if passed:
            self.emit(ev)
            return Outcome("completed")
        v = self.decide(ev, tag)
        return Outcome(v.decision, decision=v.decision)

    def _step_up(self, user: User, device: str | None, has_face: bool, purpose: str, tag: Tag) -> bool:
        """A fresh face check: the account holder passes it, someone without their face fails it."""
        self.now += 1.0
        self.face_attempt("face_verification", user, device, has_face, purpose, tag)
        return has_face

    def _money_out(self, ev: Any, user: User, has_face: bool, tag: Tag, purpose: str) -> Outcome:
        self.fraud_started(tag)
        if user.id in self.frozen:  # the flows refuse before asking the engine
            return Outcome("frozen")
        if tag.kind == "fraud":
            tag.scenario.attempted_out_fen += ev.amount_fen  # type: ignore[union-attr]
        v = self.decide(ev, tag)
        if v.decision in REFUSED:
            return Outcome(v.decision, decision=v.decision)
        if v.decision == "step_up" and not self._step_up(user, ev.device_id, has_face, purpose, tag):
            return Outcome("step_up_failed", decision=v.decision)
        self.engine_mod.completed(self.session, v)
        if tag.kind == "fraud":
            tag.scenario.moved_out_fen += ev.amount_fen  # type: ignore[union-attr]
        return Outcome("completed", ev.ref, v.decision)

    def pay(
        self,
        user: User,
        merchant: Merchant,
        amount_fen: int,
        tag: Tag = OTHER,
        has_face: bool = True,
        refund_p: float = 0.0,
    ) -> Outcome:
        terminal = self.rng.choice(merchant.terminals)
        ev = self.EventIn(
            "payment",
            account_id=user.id,
            device_id=f"terminal:{terminal}",
            merchant_id=merchant.id,
            face_key=user.face_key,
            amount_fen=max(1, amount_fen),
            ref=self.world.ref(),
            at=self.at(self.now),
        )
        out = self._money_out(ev, user, has_face, tag, "payment_step_up")
        if out.status == "completed" and refund_p and self.rng.random() < refund_p:
            delay = self.rng.choice((self.rng.uniform(5 * MINUTE, 2 * HOUR), self.rng.uniform(HOUR, 6 * DAY)))
            part = amount_fen if self.rng.random() < 0.7 else int(amount_fen * self.rng.uniform(0.2, 0.9))
            self.schedule(self.now + delay, self.refund, user, merchant, part, out.ref, f"terminal:{terminal}")
        return out

    def refund(
        self, user: User, merchant: Merchant, amount_fen: int, ref: str, device: str | None, tag: Tag = OTHER
    ) -> Outcome:
        self.fraud_started(tag)
        self.emit(
            self.EventIn(
                "refund",
                account_id=user.id,
                merchant_id=merchant.id,
                device_id=device,
                amount_fen=amount_fen,
                ref=ref,
                at=self.at(self.now),
            )
        )
        return Outcome("completed")

    def credit(
        self,
        kind: str,
        user: User,
        amount_fen: int,
        periods: int,
        device: str,
        ip: str,
        merchant: Merchant | None = None,
        category: str | None = None,
        address: str | None = None,
        tag: Tag = OTHER,
        has_face: bool = True,
        repay: str = "normal",
    ) -> Outcome:
        """An installment purchase or a cash loan; its repayments are scheduled once it is drawn."""
        from facetrust.risk.events import address_hash

        if amount_fen > user.available_fen or amount_fen < yuan(100 if kind == "installment" else 500):
            return Outcome("no_credit")  # the checkout offers no such plan: nothing reaches the engine
        ev = self.EventIn(
            kind,
            account_id=user.id,
            device_id=device,
            ip=ip,
            merchant_id=merchant.id if merchant else None,
            address_hash=address_hash(address) if address else None,
            face_key=user.face_key,
            amount_fen=amount_fen,
            category=category,
            periods=periods,
            ref=self.world.ref(),
            data={"limit_fen": user.limit_fen, "used_fen": user.used_fen},
            at=self.at(self.now),
        )
        out = self._money_out(ev, user, has_face, tag, kind)
        if out.status == "completed":
            self._draw(user, amount_fen)
            plan = Plan(out.ref, amount_fen, periods, amount_fen)  # type: ignore[arg-type]
            user.plans.append(plan)
            if repay == "normal":
                self.schedule_repayments(user, plan, self.now)
        return out

    def _draw(self, user: User, delta: int) -> None:
        from sqlalchemy import update

        from facetrust.credit.models import CreditLine

        user.used_fen = max(0, user.used_fen + delta)
        self.session.execute(update(CreditLine).where(CreditLine.account_id == user.id).values(used_fen=user.used_fen))

    def schedule_repayments(self, user: User, plan: Plan, start: float, first: int = 1) -> None:
        r = self.rng
        for i in range(first, plan.periods + 1):
            due = start + i * 30 * DAY
            if due - 3 * DAY >= self.end:
                break
            late = r.random() < (0.35 if user.late_payer else 0.02)
            at = due + (r.uniform(1, 12) * DAY if late else -r.uniform(0, 3) * DAY)
            self.schedule(at, self.repay, user, plan, "late" if late else "on_time")
        if r.random() < 0.04 and start + 10 * DAY >= self.now:  # pays it all off early
            self.schedule(start + r.uniform(10, 50) * DAY, self.repay, user, plan, "early")

    def repay(self, user: User, plan: Plan, outcome: str, tag: Tag = OTHER, amount_fen: int | None = None) -> Outcome:
        if user.id in self.frozen or plan.left_fen <= 0:
            return Outcome("frozen" if user.id in self.frozen else "nothing_due")
        self.fraud_started(tag)
        amount = (
            plan.left_fen
            if outcome == "early"
            else min(plan.left_fen, amount_fen or -(-plan.amount_fen // plan.periods))
        )
        plan.left_fen -= amount
        plan.paid += 1
        self._draw(user, -amount)
        self.emit(
            self.EventIn(
                "repayment",
                account_id=user.id,
                amount_fen=amount,
                ref=plan.ref,
                outcome=outcome,
                data={"kind": "early" if outcome == "early" else "installment"},
                at=self.at(self.now),
            )
        )
        return Outcome("completed")


# --- normal life --------------------------------------------------------------------------------


def plan_normal_life(world: World, user: User, days: int) -> None:
    """The window's out-of-the-ordinary days of one honest user (ordinary days need no plan)."""
    r, p = world.rng, user.plan
    first = max(0, int(user.joined // DAY) + 1)
    if first >= days:
        return

    def day() -> int:
        return r.randrange(first, days)

    if r.random() < 0.12 * days / 60:  # a trip
        city = r.choice([c for c in CITIES if c != user.city])
        user.trip = (day(), r.randint(2, 6), city)
    if r.random() < 0.06 * days / 60:
        p[day()].append("new_phone")
    if r.random() < 0.05 * days / 60:
        p[day()].append("failed_liveness")
    if r.random() < 0.005 * days / 60:
        p[day()].append("face_trouble")  # an elderly user's several failures
    if user.limit_fen:
        for _ in range(poisson(r, 0.3 * days / 60)):
            p[day()].append("installment")
        if r.random() < 0.05 * days / 60:
            p[day()].append("loan")
    if r.random() < 0.04 * days / 60:
        p[day()].append("spree")


def ordinary_payment_amount(r: random.Random, user: User) -> int:
    a = math.exp(r.gauss(user.amount_mu, 0.8))
    if r.random() < 0.02:
        a *= r.uniform(5, 20)  # a big purchase now and then
    return yuan(min(a, 20000))


def lunch_time(r: random.Random, d: int) -> float:
    return d * DAY + r.uniform(11.4, 13.3) * HOUR


def day_time(r: random.Random, d: int) -> float:
    h = r.choices(
        (r.uniform(7, 10), r.uniform(10, 17), r.uniform(17, 21.5), r.uniform(21.5, 23.9)),
        weights=(0.2, 0.35, 0.35, 0.1),
    )[0]
    return d * DAY + h * HOUR


def normal_day(sim: Sim, d: int) -> None:
    """Schedule every honest (and victim, and accomplice) user's actions of day ``d``."""
    world, r = sim.world, sim.rng
    weekday = (d + 0) % 7 < 5  # the window starts on a Monday
    for user in world.users:
        if user.group == "fraud" or user.joined > d * DAY + DAY or d * DAY > user.life_until:
            continue
        if user.id in sim.frozen:
            continue
        tag = Tag("normal", user, "ordinary") if user.group == "normal" else OTHER

        def t_(b: str, user: User = user) -> Tag:
            return Tag("normal", user, b) if user.group == "normal" else OTHER

        if user.joined > d * DAY:  # joins today
            t0 = user.joined
            sim.schedule(t0, sim.real_name, user)
            sim.schedule(t0 + r.uniform(60, 600), sim.login, user, user.devices[0], user.home_ip)
            sim.schedule(t0 + r.uniform(600, 3600), sim.enrol, user, user.devices[0])
            continue
        travelling = user.trip and user.trip[0] <= d < user.trip[0] + user.trip[1]
        city = user.trip[2] if travelling else user.city  # type: ignore[index]
        ip_pool = world.mobile_ips[city]
        for _ in range(poisson(r, 0.5)):
            device = (
                user.family_device
                if user.family_device and r.random() < 0.25
                else user.devices[0 if r.random() < 0.85 or len(user.devices) == 1 else 1]
            )
            ip = user.home_ip if (not travelling and r.random() < 0.6) else r.choice(ip_pool)
            sim.schedule(day_time(r, d), sim.login, user, device, ip)
        rate = user.pay_rate * (1.3 if not weekday else 1.0)
        if travelling:
            shops = world.by_city[city]["shop"]
            if d == user.trip[0]:  # type: ignore[index]
                hotel = r.choice(world.by_city[city]["hotel"])
                sim.schedule(
                    d * DAY + r.uniform(14, 22) * HOUR,
                    sim.pay,
                    user,
                    hotel,
                    yuan(r.uniform(300, 1500) * r.choice((1, 2, 3))),
                    t_("travel_hotel"),
                    True,
                    0.03,
                )
            for _ in range(poisson(r, rate * 1.5)):
                sim.schedule(
                    day_time(r, d),
                    sim.pay,
                    user,
                    r.choice(shops),
                    ordinary_payment_amount(r, user),
                    t_("travel"),
                    True,
                    0.02,
                )
            continue
        if user.canteen and weekday and r.random() < 0.6:
            sim.schedule(
                lunch_time(r, d), sim.pay, user, user.canteen, yuan(r.uniform(12, 38)), t_("canteen"), True, 0.002
            )
        for _ in range(poisson(r, rate)):
            if r.random() < 0.08:
                m = r.choice(world.by_city[city]["shop"])
            else:
                m = r.choices(user.usual, weights=user.usual_w)[0]
            sim.schedule(day_time(r, d), sim.pay, user, m, ordinary_payment_amount(r, user), tag, True, 0.025)
        for event in user.plan.get(d, ()):
            EVENTS[event](sim, user, d, t_(event))


def _spree(sim: Sim, user: User, d: int, tag: Tag) -> None:
    r = sim.rng
    t = d * DAY + r.uniform(10, 19) * HOUR
    shops = sim.world.nearest(user.home, user.city, "shop", 20)
    for _ in range(r.randint(2, 5)):
        sim.schedule(
            t, sim.pay, user, r.choice(shops), ordinary_payment_amount(r, user) * r.randint(1, 3), tag, True, 0.05
        )
        t += r.uniform(3, 40) * MINUTE


def _new_phone(sim: Sim, user: User, d: int, tag: Tag) -> None:
    r, w = sim.rng, sim.world
    t = d * DAY + r.uniform(9, 21) * HOUR
    new = w.device()
    old = user.devices[0]
    if user.limit_fen and r.random() < 0.2:  # bought the new phone itself on installments, on the old one
        m = r.choice(w.by_city[user.city]["store"] or w.online)
        sim.schedule(
            t - HOUR,
            sim.credit,
            "installment",
            user,
            min(user.available_fen, yuan(r.uniform(2000, 8000))),
            r.choice((12, 24, 24)),
            old,
            user.home_ip,
            m,
            "phones",
            user.address,
            tag,
        )
    user.devices[0] = new
    ip = r.choice((user.home_ip, r.choice(w.mobile_ips[user.city])))
    sim.schedule(t, sim.login, user, new, ip)
    sim.schedule(t + r.uniform(1, 5) * MINUTE, sim.face_attempt, "liveness", user, new, True, "login")
    if user.limit_fen and r.random() < 0.25:  # a draw from the new phone, days later
        later = t + r.uniform(0.05, 14) * DAY
        if r.random() < 0.5:
            m = r.choice(w.online)
            amount = min(user.available_fen, yuan(r.uniform(*CATEGORIES[m.category][0])))  # type: ignore[index]
            sim.schedule(
                later,
                sim.credit,
                "installment",
                user,
                amount,
                r.choices(PERIODS, weights=CATEGORIES[m.category][1])[0],
                new,
                user.home_ip,
                m,
                m.category,
                user.address,
                Tag("normal", user, "new_phone_draw"),
            )
        else:
            amount = min(user.available_fen, yuan(r.choice((1000, 2000, 3000, 5000, 8000))))
            sim.schedule(
                later,
                sim.credit,
                "loan",
                user,
                amount,
                r.choice((3, 6, 12)),
                new,
                user.home_ip,
                None,
                None,
                None,
                Tag("normal", user, "new_phone_draw"),
            )


def _failed_liveness(sim: Sim, user: User, d: int, tag: Tag, failures: int = 1) -> None:
    r = sim.rng
    t = day_time(r, d)
    purpose = r.choice(("login", "loan", "face_pay_enrolment", "installment"))
    device = user.devices[0]
    kind = r.choice(("liveness", "liveness", "face_verification"))
    for _ in range(failures):
        sim.schedule(t, sim.face_attempt, kind, user, device, False, purpose, tag)
        t += r.uniform(20, 180)
    sim.schedule(t, sim.face_attempt, kind, user, device, True, purpose, tag)


def _face_trouble(sim: Sim, user: User, d: int, tag: Tag) -> None:
    _failed_liveness(sim, user, d, tag, failures=sim.rng.randint(2, 4))


def _installment(sim: Sim, user: User, d: int, tag: Tag) -> None:
    r, w = sim.rng, sim.world
    stores = w.by_city[user.city]["store"]
    m = r.choice(stores) if stores and r.random() < 0.4 else r.choice(w.online)
    (lo, hi), weights = CATEGORIES[m.category]  # type: ignore[index]
    amount = yuan(math.exp(r.uniform(math.log(lo), math.log(hi))))
    if amount > user.available_fen:  # picks something cheaper, or a smaller one
        amount = int(user.available_fen * r.uniform(0.4, 0.95))
    periods = r.choices(PERIODS, weights=weights)[0]
    device = user.family_device if user.family_device and r.random() < 0.3 else user.devices[0]
    ip = user.home_ip if r.random() < 0.7 else r.choice(w.mobile_ips[user.city])
    out_tag = Tag("normal", user, "installment_24" if periods == 24 else "installment") if tag.kind == "normal" else tag
    sim.schedule(day_time(r, d), _installment_and_maybe_return, sim, user, amount, periods, device, ip, m, out_tag)


def _installment_and_maybe_return(
    sim: Sim, user: User, amount: int, periods: int, device: str, ip: str, m: Merchant, tag: Tag
) -> None:
    out = sim.credit("installment", user, amount, periods, device, ip, m, m.category, user.address, tag)
    if out.status == "completed" and sim.rng.random() < 0.03:  # returned the goods
        sim.schedule(sim.now + sim.rng.uniform(0.2, 7) * DAY, sim.refund, user, m, amount, out.ref, None)


def _first_phone(sim: Sim, user: User, d: int, tag: Tag) -> None:
    """A new user buys a phone on installments soon after joining, near their small first limit."""
    r, w = sim.rng, sim.world
    m = r.choice([m for m in w.by_city[user.city]["store"] + w.online if m.category == "phones"] or w.online)
    amount = int(user.available_fen * r.uniform(0.5, 0.97))
    sim.schedule(
        day_time(r, d),
        _installment_and_maybe_return,
        sim,
        user,
        amount,
        r.choice((12, 24, 24)),
        user.devices[0],
        user.home_ip if r.random() < 0.6 else r.choice(w.mobile_ips[user.city]),
        m,
        tag,
    )


def _loan(sim: Sim, user: User, d: int, tag: Tag) -> None:
    r = sim.rng
    amount = min(int(user.available_fen * r.uniform(0.2, 0.7)), yuan(r.choice((1000, 2000, 3000, 5000, 10000, 20000))))
    sim.schedule(
        day_time(r, d),
        sim.credit,
        "loan",
        user,
        amount,
        r.choice((3, 6, 12, 12, 24)),
        user.devices[0],
        user.home_ip if r.random() < 0.7 else r.choice(sim.world.mobile_ips[user.city]),
        None,
        None,
        None,
        tag,
    )


EVENTS: dict[str, Callable[[Sim, User, int, Tag], None]] = {
    "spree": _spree,
    "new_phone": _new_phone,
    "failed_liveness": _failed_liveness,
    "face_trouble": _face_trouble,
    "installment": _installment,
    "loan": _loan,
    "first_phone": _first_phone,
}


# --- the history before the window (bulk) -------------------------------------------------------


def history_rows(world: World) -> Iterator[dict]:
    """90 days of completed, undecided history of the users who existed then."""
    from facetrust.risk.events import address_hash

    r = world.rng

    def row(kind: str, t: float, user: User, **kw: Any) -> dict:
        base = {
            "kind": kind,
            "at": EPOCH + dt.timedelta(seconds=t),
            "account_id": user.id,
            "device_id": None,
            "ip": None,
            "merchant_id": None,
            "address_hash": None,
            "face_key": None,
            "amount_fen": None,
            "outcome": None,
            "category": None,
            "periods": None,
            "ref": None,
            "data": "{}",
        }
        base.update(kw)
        return base

    for user in world.users:
        if user.joined >= 0:  # joins during the window
            continue
        start = max(user.joined, -HISTORY_DAYS * DAY)
        yield row("real_name", user.real_name_at, user, outcome="passed")
        yield row(
            "face_pay.enrol",
            user.real_name_at + 1800,
            user,
            face_key=user.face_key,
            device_id=user.devices[0] if user.real_name_at >= -HISTORY_DAYS * DAY else None,
        )
        for d in range(int(start // DAY) + 1, 0):
            for _ in range(poisson(r, 0.5)):
                yield row(
                    "login",
                    day_time(r, d),
                    user,
                    device_id=user.devices[r.random() < 0.15 and len(user.devices) - 1],
                    ip=user.home_ip if r.random() < 0.6 else r.choice(world.mobile_ips[user.city]),
                )
            for _ in range(poisson(r, user.pay_rate)):
                m = r.choices(user.usual, weights=user.usual_w)[0]
                yield row(
                    "payment",
                    day_time(r, d),
                    user,
                    device_id=f"terminal:{r.choice(m.terminals)}",
                    merchant_id=m.id,
                    face_key=user.face_key,
                    amount_fen=ordinary_payment_amount(r, user),
                    outcome="completed",
                    ref=world.ref(),
                )
            if user.canteen and d % 7 < 5 and r.random() < 0.6:
                m = user.canteen
                yield row(
                    "payment",
                    lunch_time(r, d),
                    user,
                    device_id=f"terminal:{r.choice(m.terminals)}",
                    merchant_id=m.id,
                    face_key=user.face_key,
                    amount_fen=yuan(r.uniform(12, 38)),
                    outcome="completed",
                    ref=world.ref(),
                )
        # credit history: plans opened before the window (years back for an old account that used
        # its line, the last 90 days for some), with their repayments so far
        if user.limit_fen and user.joined < -40 * DAY:
            opened = []
            earliest = max(user.joined + 30 * DAY, -3 * 365 * DAY)
            if user.joined < -HISTORY_DAYS * DAY and r.random() < 0.6 and earliest < -HISTORY_DAYS * DAY:
                years = (-HISTORY_DAYS * DAY - earliest) / (365 * DAY)
                opened += [r.uniform(earliest, -HISTORY_DAYS * DAY) for _ in range(min(6, 1 + poisson(r, 1.2 * years)))]
            opened += [r.uniform(start + DAY, -5 * DAY) for _ in range(r.choice((0, 1, 1, 2, 3)))]
            for t in sorted(opened):
                m = r.choice(world.online)
                (lo, hi), weights = CATEGORIES[m.category]  # type: ignore[index]
                room = int(user.limit_fen * 0.3) - user.used_fen if user.credit_room else int(user.available_fen * 0.8)
                amount = min(yuan(r.uniform(lo, hi)), room)
                if amount < yuan(100):
                    continue
                periods = r.choices(PERIODS, weights=weights)[0]
                plan = Plan(world.ref(), amount, periods, amount)
                yield row(
                    "installment",
                    t,
                    user,
                    device_id=user.devices[0] if t > -HISTORY_DAYS * DAY else None,
                    ip=user.home_ip,
                    merchant_id=m.id,
                    address_hash=address_hash(user.address),
                    face_key=user.face_key,
                    amount_fen=amount,
                    outcome="completed",
                    category=m.category,
                    periods=periods,
                    ref=plan.ref,
                    data=json.dumps({"limit_fen": user.limit_fen, "used_fen": user.used_fen}),
                )
                user.used_fen += amount
                due = t + 30 * DAY
                while due < 0 and plan.left_fen > 0:
                    part = min(plan.left_fen, -(-amount // periods))
                    plan.left_fen -= part
                    plan.paid += 1
                    late = r.random() < (0.35 if user.late_payer else 0.02)
                    yield row(
                        "repayment",
                        due + (r.uniform(1, 10) if late else -r.uniform(0, 3)) * DAY,
                        user,
                        amount_fen=part,
                        ref=plan.ref,
                        outcome="late" if late else "on_time",
                        data=json.dumps({"kind": "installment"}),
                    )
                    due += 30 * DAY
                user.used_fen -= amount - plan.left_fen
                if plan.left_fen > 0:
                    plan.next_due = due
                    user.plans.append(plan)


# --- fraud scenarios ----------------------------------------------------------------------------


def _fraud_steps(typology: str, world: World, sc: Scenario, start: float) -> Iterator:
    return {
        "velocity_burst": velocity_burst,
        "new_device_high_amount": account_takeover,
        "shared_device_or_identity": account_farm,
        "bust_out": bust_out,
        "installment_cashout_merchant": cashout_merchant,
        "repeated_face_failures": face_spoofing,
        "unusual_location": unusual_location,
    }[typology](world, sc, start)


def victim(world: World, sc: Scenario, credit_p: float = 0.8) -> User:
    u = world.make_user("victim", -world.rng.uniform(120, 1500) * DAY, credit_p)
    u.credit_room = True
    sc.accounts.append(u.id)
    return u


def velocity_burst(world: World, sc: Scenario, start: float) -> Iterator:
    """Someone with control of an account (a stolen phone, a spoofed face) drains it fast: rapid
    payments at shops, or several loans one after another."""
    r, careful = world.rng, sc.variant == "careful"
    v = victim(world, sc, credit_p=1.0)
    v.limit_fen = max(v.limit_fen, yuan(8000))
    tag = Tag("fraud", scenario=sc)
    sim: Sim = yield  # type: ignore[misc]
    mode = "loans" if r.random() < 0.3 else "payments"
    sc.params["mode"] = mode
    t = start
    failures, max_failures = 0, r.randint(2, 4)
    if mode == "payments":
        shops = r.sample(world.by_city[v.city]["shop"] + world.by_city[v.city]["store"], r.randint(1, 3))
        n = r.randint(3, 5) if careful else r.randint(5, 15)
        gap = (lambda: r.uniform(3, 12) * MINUTE) if careful else (lambda: r.expovariate(1 / r.uniform(20, 120)))
        mu = math.log(r.uniform(120, 400) if careful else r.uniform(300, 1500))
        sc.params.update(payments=n, shops=len(shops))
        for _ in range(n):
            amount = yuan(math.exp(r.gauss(mu, 0.4)))
            out = yield t, sim.pay, dict(user=v, merchant=r.choice(shops), amount_fen=amount, tag=tag, has_face=False)
            if out.status == "frozen":
                return
            failures += out.status != "completed"
            if failures >= max_failures:
                return
            t = sim.now + gap()
    else:
        device, ip = v.devices[0], r.choice(world.mobile_ips[v.city])  # the stolen phone
        n = r.randint(2, 3) if careful else r.randint(3, 6)
        sc.params.update(loans=n)
        for _ in range(n):
            share = r.uniform(0.15, 0.3) if careful else r.uniform(0.2, 0.5)
            amount = max(yuan(500), int(v.available_fen * share) // 10000 * 10000)
            if amount > v.available_fen:
                return  # nothing left to draw
            out = yield (
                t,
                sim.credit,
                dict(
                    kind="loan",
                    user=v,
                    amount_fen=amount,
                    periods=r.choice((3, 6, 12)),
                    device=device,
                    ip=ip,
                    tag=tag,
                    has_face=False,
                    repay="none",
                ),
            )
            if out.status == "frozen":
                return
            failures += out.status != "completed"
            if failures >= max_failures:
                return
            t = sim.now + (r.uniform(15, 60) if careful else r.uniform(1, 10)) * MINUTE


def account_takeover(world: World, sc: Scenario, start: float) -> Iterator:
    """A new phone and a new network, then a large draw on the victim's credit."""
    r, careful = world.rng, sc.variant == "careful"
    v = victim(world, sc, credit_p=1.0)
    v.limit_fen = max(v.limit_fen, yuan(r.choice((8000, 10000, 20000, 30000))))
    tag = Tag("fraud", scenario=sc)
    sim: Sim = yield  # type: ignore[misc]
    device = world.device()
    far = r.random() < 0.5
    ip = world.ip() if far else r.choice(world.mobile_ips[v.city])
    sc.params.update(ip="new" if far else "carrier_pool_same_city")
    yield start, sim.login, dict(user=v, device=device, ip=ip, tag=tag)
    t = sim.now + r.uniform(1, 4) * MINUTE
    if r.random() < 0.3:  # the spoof took a try or two
        for _ in range(r.randint(1, 2)):
            yield (
                t,
                sim.face_attempt,
                dict(kind="liveness", user=v, device=device, passed=False, purpose="login", tag=tag),
            )
            t = sim.now + r.uniform(0.5, 3) * MINUTE
    yield t, sim.face_attempt, dict(kind="liveness", user=v, device=device, passed=True, purpose="login", tag=tag)
    t = sim.now + (r.uniform(6, 72) * HOUR if careful else r.uniform(2, 90) * MINUTE)
    if careful:
        yield t - r.uniform(10, 60) * MINUTE, sim.login, dict(user=v, device=device, ip=ip, tag=tag)
    share = r.uniform(0.25, 0.55) if careful else r.uniform(0.6, 1.0)
    for _attempt in range(2):
        amount = int(v.available_fen * share)
        if r.random() < 0.55:
            sc.params.setdefault("draw", "loan")
            out = yield (
                t,
                sim.credit,
                dict(
                    kind="loan",
                    user=v,
                    amount_fen=max(yuan(500), amount // 10000 * 10000),
                    periods=r.choice((6, 12, 24)),
                    device=device,
                    ip=ip,
                    tag=tag,
                    has_face=False,
                    repay="none",
                ),
            )
        else:
            sc.params.setdefault("draw", "installment")
            m = r.choice([m for m in world.online if m.category in LIQUID])
            out = yield (
                t,
                sim.credit,
                dict(
                    kind="installment",
                    user=v,
                    amount_fen=amount,
                    periods=r.choice((12, 24)),
                    device=device,
                    ip=ip,
                    merchant=m,
                    category=m.category,
                    address=f"drop {hexid(r, 8)}",
                    tag=tag,
                    has_face=False,
                    repay="none",
                ),
            )
        if out.status in ("completed", "frozen") or r.random() < 0.5:
            return
        share *= 0.5  # declined: try a smaller one
        t = sim.now + r.uniform(2, 30) * MINUTE


def account_farm(world: World, sc: Scenario, start: float) -> Iterator:
    """Many accounts behind one phone (or two), one address, sometimes one face: registered with
    bought identities, each drawing a little credit."""
    r, careful = world.rng, sc.variant == "careful"
    k = r.randint(3, 5) if careful else r.randint(5, 14)
    devices = [world.device() for _ in range(2 if careful else r.choice((1, 1, 2)))]
    proxy = r.random() < 0.5
    ips = [world.ip() for _ in range(k if proxy else 1)]
    shared_face = r.random() < 0.4
    address = f"farm {hexid(r, 8)}"
    addresses = [address] if r.random() < 0.6 else [f"farm {hexid(r, 8)}" for _ in range(k)]
    city = r.choice(list(CITIES))
    gap = (lambda: r.uniform(3, 24) * HOUR) if careful else (lambda: r.uniform(2, 40) * MINUTE)
    accounts, t = [], start
    for _ in range(k):
        u = world.make_user("fraud", t, credit_p=1.0, city=city)
        u.limit_fen = yuan(r.choice((2000, 3000, 5000, 8000)))
        if shared_face and accounts:
            u.face_key = accounts[0].face_key
        accounts.append(u)
        sc.accounts.append(u.id)
        t += gap()
    sc.params.update(
        accounts=k, devices=len(devices), proxy_ips=proxy, shared_face=shared_face, shared_address=len(addresses) == 1
    )
    tag = Tag("fraud", scenario=sc)
    sim: Sim = yield  # type: ignore[misc]
    for i, u in enumerate(accounts):
        device, ip = devices[i % len(devices)], ips[i % len(ips)]
        t = u.joined
        yield t, sim.real_name, dict(user=u, tag=tag)
        yield t + r.uniform(30, 300), sim.login, dict(user=u, device=device, ip=ip, tag=tag)
        yield sim.now + r.uniform(60, 600), sim.enrol, dict(user=u, device=device, tag=tag)
    # then the draws, account by account
    order = list(accounts)
    r.shuffle(order)
    t = sim.now + (r.uniform(0.5, 2) * DAY if careful else r.uniform(10, 120) * MINUTE)
    for u in order:
        j = accounts.index(u)
        device, ip = devices[j % len(devices)], ips[j % len(ips)]
        if r.random() < 0.7:
            m = r.choice([m for m in world.online if m.category in LIQUID])
            amount = int(u.available_fen * r.uniform(0.5, 1.0))
            yield (
                t,
                sim.credit,
                dict(
                    kind="installment",
                    user=u,
                    amount_fen=amount,
                    periods=r.choice((6, 12, 24)),
                    device=device,
                    ip=ip,
                    merchant=m,
                    category=m.category,
                    address=addresses[j % len(addresses)],
                    tag=tag,
                    repay="none",
                ),
            )
        else:
            amount = max(yuan(500), int(u.available_fen * r.uniform(0.5, 1.0)) // 10000 * 10000)
            yield (
                t,
                sim.credit,
                dict(
                    kind="loan",
                    user=u,
                    amount_fen=amount,
                    periods=r.choice((6, 12)),
                    device=device,
                    ip=ip,
                    tag=tag,
                    repay="none",
                ),
            )
        t = sim.now + gap()


def bust_out(world: World, sc: Scenario, start: float) -> Iterator:
    """A new account builds a thin good history (small purchases, repaid on time or early), then
    takes the line near its limit in liquid goods at the longest term, and disappears."""
    r, careful = world.rng, sc.variant == "careful"
    build_days = sc.params["build_days"]
    u = world.make_user("fraud", start, credit_p=1.0)
    u.limit_fen = yuan(r.choice((8000, 10000, 15000, 20000, 30000)))
    sc.accounts.append(u.id)
    tag = Tag("fraud", scenario=sc)
    sim: Sim = yield  # type: ignore[misc]
    device, ip = u.devices[0], u.home_ip
    yield start, sim.real_name, dict(user=u, tag=tag)
    yield start + r.uniform(60, 600), sim.login, dict(user=u, device=device, ip=ip, tag=tag)
    yield sim.now + r.uniform(60, 900), sim.enrol, dict(user=u, device=device, tag=tag)
    end = start + build_days * DAY
    # the build-up: a few small plans, paid on time or early, and some ordinary shopping
    steps: list[tuple[float, str]] = []
    for _ in range(r.randint(2, 4) if careful else r.randint(1, 3)):
        steps.append((r.uniform(start + DAY, start + 0.5 * build_days * DAY), "small_plan"))
    for _ in range(int(build_days * r.uniform(0.2, 0.8))):
        steps.append((r.uniform(start + DAY, end), "shop"))
    for _ in range(int(build_days / 5)):
        steps.append((r.uniform(start + DAY, end), "login"))
    steps.sort()
    plans: list[Plan] = []
    for t, what in steps:
        if what == "small_plan":
            m = r.choice(world.by_city[u.city]["store"] + world.online)
            out = yield (
                t,
                sim.credit,
                dict(
                    kind="installment",
                    user=u,
                    amount_fen=yuan(r.uniform(150, 1200)),
                    periods=r.choice((3, 3, 6)),
                    device=device,
                    ip=ip,
                    merchant=m,
                    category=m.category,
                    address=u.address,
                    tag=tag,
                    repay="none",
                ),
            )
            if out.status == "completed":
                plans.append(u.plans[-1])
        elif what == "shop":
            yield (
                t,
                sim.pay,
                dict(
                    user=u,
                    merchant=r.choices(u.usual, weights=u.usual_w)[0],
                    amount_fen=ordinary_payment_amount(r, u),
                    tag=tag,
                ),
            )
        else:
            yield t, sim.login, dict(user=u, device=device, ip=ip, tag=tag)
        # repayments fall due as the build goes on
        for plan in plans:
            while plan.left_fen > 0 and plan.paid < plan.periods:
                due = sim.now  # they repay each installment quickly, some all at once
                outcome = "early" if r.random() < 0.3 else "on_time"
                yield due + r.uniform(1, 6) * HOUR, sim.repay, dict(user=u, plan=plan, outcome=outcome, tag=tag)
                if r.random() < 0.5:
                    break
    # the bust
    m = r.choice([m for m in world.online + world.by_city[u.city]["store"] if m.category in LIQUID])
    periods = 24 if not careful or r.random() < 0.7 else 12
    share = r.uniform(0.6, 0.85) if careful else r.uniform(0.85, 1.0)
    sc.params.update(
        final_periods=periods,
        final_share=round(share, 2),
        small_plans=len(plans),
        repayments=sum(p.paid for p in plans),
    )
    out = yield (
        end,
        sim.credit,
        dict(
            kind="installment",
            user=u,
            amount_fen=int(u.available_fen * share),
            periods=periods,
            device=device,
            ip=ip,
            merchant=m,
            category=m.category,
            address=u.address,
            tag=tag,
            repay="none",
        ),
    )
    if out.status == "completed" and r.random() < 0.4 and u.available_fen >= yuan(500):
        yield (
            sim.now + r.uniform(5, 120) * MINUTE,
            sim.credit,
            dict(
                kind="loan",
                user=u,
                amount_fen=u.available_fen // 10000 * 10000,
                periods=24,
                device=device,
                ip=ip,
                tag=tag,
                repay="none",
            ),
        )


def cashout_merchant(world: World, sc: Scenario, start: float) -> Iterator:
    """A colluding merchant books max-term installment orders for recruited account holders, pays
    them cash less a cut, and refunds some orders soon after."""
    r, careful = world.rng, sc.variant == "careful"
    located = r.random() < 0.4
    city = r.choice(list(CITIES))
    m = world.merchant(
        "colluding",
        city if located else None,
        near(r, CITIES[city], 6) if located else None,
        f"cashout {hexid(r, 6)}",
        r.choice(LIQUID),
        terminals=1 if located else 0,
    )
    n = r.randint(3, 5) if careful else r.randint(5, 12)
    accomplices = [
        world.make_user("accomplice", -r.uniform(100, 1500) * DAY, credit_p=1.0, city=city) for _ in range(n)
    ]
    for u in accomplices:
        u.limit_fen = max(u.limit_fen, yuan(5000))
        sc.accounts.append(u.id)
    span = r.uniform(5, 14) if careful else r.uniform(1, 4)
    max_share = r.uniform(0.5, 0.8) if careful else r.uniform(0.8, 1.0)
    refund_p = r.uniform(0.1, 0.3) if careful else r.uniform(0.3, 0.7)
    drop = f"drop {hexid(r, 8)}" if r.random() < 0.4 else None
    sc.params.update(
        accounts=n,
        days=round(span, 1),
        max_term_share=round(max_share, 2),
        refund_share=round(refund_p, 2),
        located=located,
        shared_address=bool(drop),
    )
    tag = Tag("fraud", scenario=sc)
    sim: Sim = yield  # type: ignore[misc]
    orders = sorted((start + r.uniform(0, span) * DAY, u) for u in accomplices for _ in range(r.choice((1, 1, 2))))
    for t, u in orders:
        periods = 24 if r.random() < max_share else r.choice((6, 12))
        amount = int(u.available_fen * (r.uniform(0.3, 0.7) if careful else r.uniform(0.6, 1.0)))
        out = yield (
            t,
            sim.credit,
            dict(
                kind="installment",
                user=u,
                amount_fen=amount,
                periods=periods,
                device=u.devices[0],
                ip=u.home_ip if r.random() < 0.7 else r.choice(world.mobile_ips[u.city]),
                merchant=m,
                category=m.category,
                address=drop or u.address,
                tag=tag,
            ),
        )
        if out.status == "completed" and r.random() < refund_p:
            sim.schedule(
                sim.now + r.uniform(10 * MINUTE, 2 * DAY),
                sim.refund,
                u,
                m,
                amount,
                out.ref,
                f"terminal:{m.terminals[0]}" if m.terminals else None,
                tag,
            )


def face_spoofing(world: World, sc: Scenario, start: float) -> Iterator:
    """Presentation attacks against an account (photos, screens, masks) from a device or three,
    or one device trying several accounts; now and then one gets through and draws money."""
    r, careful = world.rng, sc.variant == "careful"
    per_device = r.random() < 0.3
    victims = [victim(world, sc) for _ in range(r.randint(3, 8) if per_device else 1)]
    devices = [world.device() for _ in range(1 if per_device else (r.randint(2, 3) if careful else r.randint(1, 2)))]
    kind = r.choice(("liveness", "liveness", "face_verification"))
    purpose = r.choice(("login", "loan", "face_pay_enrolment", "installment"))
    tag = Tag("fraud", scenario=sc)
    sc.params.update(
        mode="one_device_many_accounts" if per_device else "one_account",
        kind=kind,
        devices=len(devices),
        accounts=len(victims),
    )
    sim: Sim = yield  # type: ignore[misc]
    t = start
    for v in victims:
        n = r.randint(1, 3) if per_device else (r.randint(3, 5) if careful else r.randint(6, 20))
        for j in range(n):
            device = devices[j % len(devices)]
            yield t, sim.face_attempt, dict(kind=kind, user=v, device=device, passed=False, purpose=purpose, tag=tag)
            t = sim.now + ((r.uniform(20, 180) * MINUTE) if careful and not per_device else r.uniform(15, 240))
        sc.params["attempts"] = sc.params.get("attempts", 0) + n
        if r.random() < 0.3 and v.limit_fen:  # the spoof got through once
            yield t, sim.face_attempt, dict(kind=kind, user=v, device=devices[0], passed=True, purpose=purpose, tag=tag)
            amount = max(yuan(500), int(v.available_fen * r.uniform(0.3, 0.9)) // 10000 * 10000)
            yield (
                sim.now + r.uniform(1, 10) * MINUTE,
                sim.credit,
                dict(
                    kind="loan",
                    user=v,
                    amount_fen=amount,
                    periods=12,
                    device=devices[0],
                    ip=world.ip(),
                    tag=tag,
                    has_face=False,
                    repay="none",
                ),
            )
            t = sim.now + r.uniform(1, 5) * MINUTE


def unusual_location(world: World, sc: Scenario, start: float) -> Iterator:
    """The victim's face (a mask, a deepfake on a compromised terminal) paying in a far city, at
    shops new to them, for more than they usually spend."""
    r, careful = world.rng, sc.variant == "careful"
    v = victim(world, sc)
    home = CITIES[v.city]
    city = r.choice([c for c, loc in CITIES.items() if km(home, loc) > 300])
    tag = Tag("fraud", scenario=sc)
    factor = r.uniform(2, 4) if careful else r.uniform(5, 30)
    n = r.randint(1, 2) if careful else r.randint(1, 3)
    sc.params.update(city=city, km=round(km(home, CITIES[city])), amount_factor=round(factor, 1), payments=n)
    sim: Sim = yield  # type: ignore[misc]
    shops = world.by_city[city]["shop"] + world.by_city[city]["store"]
    t = start
    for _ in range(n):
        amount = min(yuan(20000), int(v.median_payment_fen * factor * r.uniform(0.8, 1.25)))
        out = yield t, sim.pay, dict(user=v, merchant=r.choice(shops), amount_fen=amount, tag=tag, has_face=False)
        if out.status == "frozen":
            return
        t = sim.now + r.uniform(5, 40) * MINUTE


# The longest a scenario of each typology (and variant) lasts, in days, so that it fits in the window.
DURATION_DAYS = {
    "velocity_burst": (0.3, 0.3),
    "new_device_high_amount": (0.2, 3.5),
    "shared_device_or_identity": (1.5, 10.0),
    "installment_cashout_merchant": (6.0, 16.0),
    "repeated_face_failures": (0.3, 1.0),
    "unusual_location": (0.2, 0.2),
}


def inject(world: World, n: int, days: int) -> None:
    r = world.rng
    for typology in TYPOLOGIES:
        for i in range(n):
            careful = r.random() < 0.25
            sc = Scenario(f"{typology}-{i}", typology, "careful" if careful else "aggressive", {})
            if typology == "bust_out":
                build = min(days - 3, r.uniform(25, 45) if careful else r.uniform(8, 20))
                sc.params["build_days"] = round(build, 1)
                duration = build + 0.5
            else:
                duration = DURATION_DAYS[typology][careful]
            day = r.uniform(1, max(1.0, days - duration - 1.0))
            start = math.floor(day) * DAY + r.uniform(8, 23) * HOUR
            script = _fraud_steps(typology, world, sc, start)
            next(script)  # builds the actors (accounts must exist before the window starts)
            for account in sc.accounts:  # nothing a victim or an accomplice does afterwards is measured
                world.by_id[account].life_until = start + (duration + 1) * DAY
            world.scenarios.append(sc)
            world.scripts.append((start, script))


def build_world(seed: int, n_users: int, n_scenarios: int, days: int) -> World:
    world = World(random.Random(seed), n_users, n_scenarios, days)
    r = world.rng
    for _ in range(n_users):
        joined = r.uniform(0, days - 3) * DAY if r.random() < 0.04 * days / 60 else -r.uniform(20, 1500) * DAY
        u = world.make_user("normal", joined, credit_p=0.8)
        if joined > 0:
            u.real_name_at = joined
    normal = [u for u in world.users if u.joined < 0]
    r.shuffle(normal)
    for a, b in zip(normal[0 : int(0.06 * len(normal)) : 2], normal[1 : int(0.06 * len(normal)) : 2]):  # families
        b.city, b.home, b.home_ip, b.address = a.city, a.home, a.home_ip, a.address
        b.usual, b.usual_w, b.canteen = a.usual, a.usual_w, b.canteen and a.canteen
        a.family_device = b.family_device = world.device()
    inject(world, n_scenarios, days)
    for u in world.users:
        if u.group != "fraud":
            plan_normal_life(world, u, days)
        # new users: some buy a phone soon, on installments near their (small) limit, at 24 months
        if u.group == "normal" and u.joined > 0 and u.limit_fen and r.random() < 0.3:
            d = min(days - 1, int(u.joined // DAY) + r.randint(1, 14))
            u.plan[d].append("first_phone")
    return world


# --- setting up the database ----------------------------------------------------------------------


def load_world(session: Any, world: World) -> dict:
    """The tenant, accounts, merchants, terminals, credit lines and the history, in bulk."""
    from sqlalchemy import insert

    from facetrust.credit.models import CreditLine
    from facetrust.identity.models import Account, Tenant
    from facetrust.payments.models import Merchant as MerchantRow
    from facetrust.payments.models import Terminal
    from facetrust.risk.models import RiskEvent

    tenant_id = world.new_id()
    session.execute(
        insert(Tenant), [{"id": tenant_id, "name": f"simulation {tenant_id[:8]}", "api_key_hash": hexid(world.rng, 64)}]
    )
    to_dt = lambda t: EPOCH + dt.timedelta(seconds=t)  # noqa: E731
    session.execute(
        insert(Account),
        [
            {
                "id": u.id,
                "tenant_id": tenant_id,
                "platform_user_id": f"sim-{u.id}",
                "mobile": f"13{world.rng.randrange(10**9):09d}",
                "status": "active",
                "created_at": to_dt(min(u.joined, u.real_name_at)),
                "real_name_verified_at": to_dt(u.real_name_at),
            }
            for u in world.users
        ],
    )
    session.execute(
        insert(MerchantRow),
        [
            {
                "id": m.id,
                "tenant_id": tenant_id,
                "name": m.name,
                "fee_bps": 60,
                "status": "active",
                "latitude": m.loc[0] if m.loc else None,
                "longitude": m.loc[1] if m.loc else None,
                "created_at": to_dt(-200 * DAY),
            }
            for m in world.merchants
        ],
    )
    terminals = [
        {
            "id": t,
            "merchant_id": m.id,
            "label": f"{m.name} {i}",
            "secret_sealed": b"-",
            "secret_wrapped_key": b"-",
            "master_key_id": "simulation",
            "status": "active",
            "created_at": to_dt(-200 * DAY),
        }
        for m in world.merchants
        for i, t in enumerate(m.terminals)
    ]
    if terminals:
        session.execute(insert(Terminal), terminals)
    history, batch = 0, []
    for row in history_rows(world):
        batch.append(row)
        if len(batch) >= 10000:
            session.execute(insert(RiskEvent), batch)
            history += len(batch)
            batch = []
    if batch:
        session.execute(insert(RiskEvent), batch)
        history += len(batch)
    lines = [
        {
            "id": world.new_id(),
            "account_id": u.id,
            "limit_fen": u.limit_fen,
            "used_fen": max(0, u.used_fen),
            "status": "active",
            "granted_by": "simulation",
            "created_at": to_dt(min(u.real_name_at, 0)),
        }
        for u in world.users
        if u.limit_fen
    ]
    if lines:
        session.execute(insert(CreditLine), lines)
    session.commit()
    return {
        "history_events": history,
        "accounts": len(world.users),
        "merchants": len(world.merchants),
        "terminals": len(terminals),
        "credit_lines": len(lines),
    }


# --- the report ---------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def report(sim: Sim, world: World, meta: dict) -> dict:
    typologies: dict[str, dict] = {}
    for typ in TYPOLOGIES:
        scs = [s for s in world.scenarios if s.typology == typ]
        detected = [s for s in scs if s.detected_at is not None]
        frozen_before = [s for s in scs if s.already_frozen and s.detected_at is None]
        measured = len(scs) - len(frozen_before)
        started = [s for s in scs if s.first_at is not None]
        to_freeze = [
            (s.freeze_at - s.first_at) / MINUTE for s in scs if s.freeze_at is not None and s.first_at is not None
        ]
        to_detect = [(s.detected_at - s.first_at) / MINUTE for s in detected if s.first_at is not None]
        fired, decisions = Counter(), Counter()
        for s in scs:
            fired.update(s.typologies)
            decisions.update(s.decisions)
        by_variant = {
            v: {
                "scenarios": sum(1 for s in scs if s.variant == v),
                "detected": sum(1 for s in detected if s.variant == v),
            }
            for v in ("aggressive", "careful")
        }
        by_param: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for s in scs:
            if s.already_frozen and s.detected_at is None:
                continue
            for key, value in s.params.items():
                if isinstance(value, str | bool):
                    by_param[key][str(value)][0] += s.detected_at is not None
                    by_param[key][str(value)][1] += 1
        attempted = sum(s.attempted_out_fen for s in scs)
        moved = sum(s.moved_out_fen for s in scs)
        missed = [
            {
                "scenario": s.id,
                "variant": s.variant,
                "accounts": s.accounts[:3],
                "params": s.params,
                "decisions": dict(s.decisions),
                "decision_ids": s.decision_ids[:6],
                "typologies": dict(s.typologies),
            }
            for s in scs
            if s.detected_at is None
        ][:8]
        typologies[typ] = {
            "scenarios": len(scs),
            "started": len(started),
            "already_frozen": len(frozen_before),  # not counted: the account was frozen before the fraud began
            "detected": len(detected),
            "detection_rate": round(len(detected) / measured, 4) if measured else None,
            "named_itself": sum(1 for s in scs if s.typologies.get(typ)),
            "clock_starts_at": CLOCK_STARTS[typ],
            "by_variant": by_variant,
            "detected_by_scenario_kind": {
                k: {v: f"{d}/{n}" for v, (d, n) in vals.items()} for k, vals in by_param.items()
            },
            "typologies_fired": dict(fired.most_common()),
            "decisions": dict(decisions),
            "minutes_to_detection": {
                "median": _round(statistics.median(to_detect)) if to_detect else None,
                "p95": _round(_pct(to_detect, 0.95)),
            },
            "minutes_to_freeze": {
                "frozen": len(to_freeze),
                "no_freeze": len(scs) - len(to_freeze),
                "median": _round(statistics.median(to_freeze)) if to_freeze else None,
                "p95": _round(_pct(to_freeze, 0.95)),
            },
            "money_out_attempted_yuan": round(attempted / 100),
            "money_out_moved_yuan": round(moved / 100),
            "missed_examples": missed,
        }
    normal = [u for u in world.users if u.group == "normal"]
    flagged = sim.normal_users_flagged
    normal_decisions = sum(sim.normal_decisions.values())
    fp_rate = len(flagged) / len(normal) if normal else 0.0
    met_detection = {t: (v["detection_rate"] or 0) >= TARGET_DETECTION for t, v in typologies.items()}
    return {
        **meta,
        "targets": {
            "detection_rate_per_typology": TARGET_DETECTION,
            "normal_false_positive_rate": TARGET_FALSE_POSITIVE,
        },
        "met": {
            "detection": met_detection,
            "all_detection": all(met_detection.values()),
            "false_positive": fp_rate <= TARGET_FALSE_POSITIVE,
        },
        "typologies": typologies,
        "normal": {
            "users": len(normal),
            "users_flagged": len(flagged),
            "false_positive_rate": round(fp_rate, 5),
            "users_stepped_up": len(sim.normal_users_stepped_up),
            "users_step_up_rate": round(len(sim.normal_users_stepped_up) / len(normal), 4) if normal else None,
            "decisions": normal_decisions,
            "decisions_by_outcome": dict(sim.normal_decisions),
            "step_up_rate": round(sim.normal_decisions["step_up"] / normal_decisions, 5) if normal_decisions else None,
            "false_positives_by_behaviour": dict(sim.fp_by_behaviour.most_common()),
            "false_positives_by_typology": dict(sim.fp_by_typology.most_common()),
            "false_positive_examples": sim.fp_examples,
        },
        "totals": {
            "events": sim.events,
            "decisions": sim.decided,
            "decisions_by_outcome": dict(sim.decisions),
            "frozen_accounts": len(sim.frozen),
        },
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def summary(rep: dict) -> str:
    lines = [
        f"risk simulation: {rep['normal']['users']} normal users, {rep['scenarios_per_typology']} scenarios per "
        f"typology, {rep['days']} days, seed {rep['seed']}, rule set {rep['rule_set']}",
        f"  {rep['totals']['events']} events in the window ({rep['setup']['history_events']} history before it), "
        f"{rep['totals']['decisions']} decisions, {rep['seconds']['total']} s",
        "",
        f"{'typology':30} {'scen':>5} {'det':>5} {'rate':>7} {'own':>4} {'careful':>8} {'frozen':>7} {'min→freeze':>11} "
        f"{'p95':>8} {'moved/attempted ¥':>19}  fired",
    ]
    for typ, v in rep["typologies"].items():
        fz = v["minutes_to_freeze"]
        c = v["by_variant"]["careful"]
        lines.append(
            f"{typ:30} {v['scenarios'] - v['already_frozen']:>5} {v['detected']:>5} "
            f"{100 * (v['detection_rate'] or 0):>6.1f}% {v['named_itself']:>4} "
            f"{c['detected']:>3}/{c['scenarios']:<4} {fz['frozen']:>7} {_fmt(fz['median']):>11} {_fmt(fz['p95']):>8} "
            f"{v['money_out_moved_yuan']:>9}/{v['money_out_attempted_yuan']:<9}  "
            + ", ".join(f"{k}:{n}" for k, n in list(v["typologies_fired"].items())[:4])
        )
    lines.append(
        "  scen: scenarios counted; det: detected (a non-approve decision naming any typology on a fraudulent "
        "event); own: the typology itself fired; careful: detected/scenarios of the careful variant; frozen: "
        "scenarios with an account frozen, minutes from the first fraudulent event (median, p95)"
    )
    skipped = {t: v["already_frozen"] for t, v in rep["typologies"].items() if v["already_frozen"]}
    if skipped:
        lines.append(
            f"  (not counted: scenarios whose account was already frozen for its holder's own doings: {skipped})"
        )
    n = rep["normal"]
    lines += [
        "",
        f"normal users: {n['users']}; flagged (review/decline/freeze) {n['users_flagged']} = "
        f"{100 * n['false_positive_rate']:.2f}%; stepped up at least once {n['users_stepped_up']} = "
        f"{100 * (n['users_step_up_rate'] or 0):.1f}%",
        f"  their decisions: {n['decisions']} {n['decisions_by_outcome']}; step-up rate per decision "
        f"{100 * (n['step_up_rate'] or 0):.2f}%",
    ]
    if n["false_positives_by_behaviour"]:
        lines.append(f"  false positives by behaviour: {n['false_positives_by_behaviour']}")
        lines.append(f"  false positives by typology: {n['false_positives_by_typology']}")
    met = rep["met"]
    lines += [
        "",
        f"targets: detection >= {100 * TARGET_DETECTION:.0f}% per typology: "
        + (
            "MET"
            if met["all_detection"]
            else "NOT MET (" + ", ".join(t for t, ok in met["detection"].items() if not ok) + ")"
        ),
        f"         false positives <= {100 * TARGET_FALSE_POSITIVE:.1f}% of normal users: "
        + ("MET" if met["false_positive"] else "NOT MET"),
    ]
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


# --- running it ----------------------------------------------------------------------------------------


def run(
    n_users: int = 2000,
    n_scenarios: int = 50,
    days: int = 60,
    seed: int = 7,
    database_url: str | None = None,
    rules_path: Path | None = None,
    echo: Callable[[str], None] = lambda m: None,
) -> dict:
    from facetrust.risk.engine import RiskEngine
    from facetrust.store.db import make_engine, session_factory
    from facetrust.store.migrate import upgrade

    if n_users < 10 or n_scenarios < 1 or days < 7:
        raise ValueError("at least 10 normal users, 1 scenario per typology and 7 days")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tmp = None
    if database_url is None:
        tmp = tempfile.mkdtemp(prefix="facetrust-simulate-")
        database_url = f"sqlite:///{os.path.join(tmp, 'simulation.db')}"
    try:
        risk_engine = RiskEngine.load(rules_path)
        upgrade(database_url)
        db = make_engine(database_url)
        try:
            sessions = session_factory(db, risk_engine=risk_engine)
            world = build_world(seed, n_users, n_scenarios, days)
            with sessions() as session:
                setup = load_world(session, world)
                risk_engine.register(session)
                session.commit()
            timings["setup"] = round(time.perf_counter() - t0, 1)
            echo(
                f"population: {setup['accounts']} accounts, {setup['merchants']} merchants, "
                f"{setup['history_events']} history events ({timings['setup']} s)"
            )
            sim = Sim(world, sessions, risk_engine, days * DAY, echo)
            try:
                for d in range(days):
                    sim.schedule(d * DAY, normal_day, sim, d)
                for user in world.users:  # plans from before the window go on being repaid
                    if user.group != "fraud":
                        for plan in user.plans:
                            if plan.next_due is not None:
                                sim.schedule_repayments(
                                    user, plan, plan.next_due - (plan.paid + 1) * 30 * DAY, first=plan.paid + 1
                                )
                for _, script in world.scripts:
                    _start_script(sim, script)
                t1 = time.perf_counter()
                sim.run(days)
                timings["window"] = round(time.perf_counter() - t1, 1)
                timings["decide"] = round(sim.decide_seconds, 1)
                timings["total"] = round(time.perf_counter() - t0, 1)
                meta = {
                    "seed": seed,
                    "days": days,
                    "scenarios_per_typology": n_scenarios,
                    "normal_users_requested": n_users,
                    "rule_set": risk_engine.ruleset.version,
                    "rule_set_sha256": risk_engine.ruleset.sha256,
                    "database": db.dialect.name,
                    "setup": setup,
                    "seconds": timings,
                    "window_start": EPOCH.isoformat(),
                    "ms_per_decision": round(1000 * sim.decide_seconds / max(1, sim.decided), 2),
                }
                return report(sim, world, meta)
            finally:
                sim.session.close()
        finally:
            db.dispose()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _start_script(sim: Sim, script: Iterator) -> None:
    """Hand a built scenario script the simulation; its first step is then scheduled."""
    try:
        t, action, kwargs = script.send(sim)
    except StopIteration:
        return
    sim.schedule(t, sim._script_step, script, action, kwargs)
