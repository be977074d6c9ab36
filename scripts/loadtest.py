"""A load test of the money path over HTTP, with money accounting, against the real service in its
own process (``facetrust serve``, one uvicorn worker, on loopback).

Concurrent terminals and users do, for a bounded count and time:

- face payments: the terminal's signed intent, the capture page, the payer's frames, the terminal's
  signed read of the result; a share of them retried with the same idempotency key (before the
  capture, after the payment, or racing the first request on a second connection, as a terminal
  that timed out does): the same intent must come back, never a second charge;
- refunds of paid payments, full and partial (a third; half the time followed by a refund of the
  rest), each with its own refund id, a share of them retried with the same id;
- installment checkouts confirmed by face: the platform's back end offers the order, the user passes
  an ``installment`` liveness session and confirms; then repayments (kind ``installment``) with
  idempotency keys, a share of them retried (after the answer, or racing). A racing retry may be
  told 409 ``*_in_progress``; it then retries and must read the same refund or repayment.

It reports throughput, p50/p95/p99 latency per operation and errors by code, then reads the books:
``facetrust ledger check --json`` on the same database, charges requested vs charged vs refunded
(fen and count), duplicates (no intent charged twice, no refund or repayment applied twice) and
money created or lost (all balances sum to 0, every wallet moved by exactly what the client saw,
the database's payment / refund / repayment / purchase totals equal the client's). Exit status 1
if any of these invariants fails.

The service runs with every default except two, said in the report header (``bfp.load_settings``):
the default risk rules in shadow (every rule and feature evaluated and stored, no typology acts: a
load test of the money path must not be mistaken for fraud) and the rate limits off
(FACETRUST_RATE_LIMIT_*_PER_MINUTE=0). Setup reuses scripts/bench_face_pay.py: real payers from the
shared face clips (consents, face real-name, face pay, funded wallets), and capture takes of the
tests' catalogue (windows of the labelled clips around labelled actions, and their mirrored copies)
screened in-process by the service's own liveness decision and identification. A recording cannot
follow a random challenge, so the load generator fixes each capture's challenge in the database to
what its take shows, right after the capture page or the installment session was opened over HTTP
(a payment: one quick action, a blink or an open mouth; an installment: two actions); everything else
goes over HTTP. The clips hold fewer takes than a load test makes captures, so it replays the same
recorded people on purpose: a take shown before is sent again with a new faint noise on its pixels
(the exact-pixel check stays), after the content fingerprints the replay defence keeps were deleted
through the load generator's own database connection (``bfp.Replays``; the defence would rightly
refuse a replay otherwise). No setting of the service is changed for it.

    .venv/bin/python scripts/loadtest.py --terminals 8 --payments 40 --checkouts 8 --json /tmp/load.json
    .venv/bin/python scripts/loadtest.py --database-url postgresql+psycopg://...   # an EMPTY database
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_face_pay as bfp  # noqa: E402

FUND_FEN = 10_000 * 100
CREDIT_LIMIT_FEN = 50_000 * 100


# ------------------------------------------------------------------------------------ recording


class Recorder:
    """Every HTTP call's latency by operation, and every error by operation and code."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.t0 = time.perf_counter()

    def call(
        self, http: bfp.Http, op: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict]:
        t = time.perf_counter()
        try:
            status, data = http.request(method, path, body, headers)
        except OSError as exc:
            with self.lock:
                self.errors[f"{op}:connection:{type(exc).__name__}"] += 1
            return 0, {}
        ms = (time.perf_counter() - t) * 1000
        with self.lock:
            self.latency[op].append(ms)
            if status >= 400:
                code = data.get("error", {}).get("code") if isinstance(data.get("error"), dict) else None
                self.errors[f"{op}:{status}:{code or 'unknown'}"] += 1
        return status, data

    def note(self, key: str) -> None:
        with self.lock:
            self.errors[key] += 1


@dataclass
class Books:
    """What the clients saw: the money movements they were told happened."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requested: list[int] = field(default_factory=list)  # amount of each payment asked for
    paid: dict = field(default_factory=dict)  # intent id -> (payer, amount)
    orders: dict = field(default_factory=dict)  # order -> intent id (first answer)
    refunds: dict = field(default_factory=dict)  # (intent id, refund id) -> (payer, amount, transaction id)
    plans: dict = field(default_factory=dict)  # plan id -> (user, principal)
    repayments: dict = field(default_factory=dict)  # repayment id -> (user, amount)
    duplicates: Counter = field(default_factory=Counter)  # a retry that got a different answer
    race_errors: Counter = field(default_factory=Counter)  # a racing retry refused (not a duplicate)
    retries: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)


# ----------------------------------------------------------------------------------- the work


@dataclass
class PayJob:
    job: bfp.Job
    retry: str | None  # None, "before" (before the capture), "after" (after the payment) or "race" (at once)
    refund: str | None  # None, "full", "partial" (a third) or "partial+rest" (a third, then the rest)
    refund_retry: str | None  # None, "seq" (after the answer) or "race" (at once)


@dataclass
class CheckoutJob:
    payer: bfp.Payer
    window: bfp.Window  # a two-action take
    order: str
    amount_fen: int
    periods: int
    repayments: int
    retry_checkout: bool
    retry_repayments: list[bool]


def bump(books: Books, key: str) -> None:
    with books.lock:
        books.outcomes[key] += 1


def signed(term: bfp.TerminalCreds, method: str, path: str, body: bytes) -> dict:
    from facetrust.security import signing

    return signing.headers(term.id, term.secret, method, path, body, int(time.time()))


def racing(rec: Recorder, port: int, op: str, method: str, path: str, body: bytes, headers) -> list[tuple[int, dict]]:
    """The same request twice at once on two connections (a client that timed out and retried while
    the first was still in flight). ``headers`` is called once per request (a fresh signature)."""
    gate, out = threading.Barrier(2), [None, None]

    def one(i: int) -> None:
        http = bfp.Http(port)
        try:
            h = headers()
            gate.wait()
            out[i] = rec.call(http, op, method, path, body, h)
        finally:
            http.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out  # type: ignore[return-value]


def settle_race(books: Books, answers: list[tuple[int, dict]], ident, in_progress: str) -> tuple[set, bool]:
    """The distinct results (by ``ident``) the racing answers' successes named, and whether one was
    told to retry (409 ``in_progress``). Any other answer is counted as a race error (its code is in
    the errors table): a refusal, not a duplicate."""
    ids, retry = set(), False
    for status, body in answers:
        if status in (200, 201):
            ids.add(ident(body))
        elif status == 409 and (body.get("error") or {}).get("code") == in_progress:
            retry = True
        else:
            with books.lock:
                books.race_errors[f"{status}:{(body.get('error') or {}).get('code')}"] += 1
    return ids, retry


def do_payment(
    rec: Recorder, books: Books, term: bfp.TerminalCreds, th: bfp.Http, ph: bfp.Http, pj: PayJob, replays: bfp.Replays
) -> None:
    job = pj.job
    t0 = time.perf_counter()
    with books.lock:
        books.requested.append(job.amount_fen)
    path = "/v1/terminal/payment-intents"
    if pj.retry == "race":  # the terminal's retry races its first request
        answers = racing(
            rec,
            th.port,
            "intent_create_race",
            "POST",
            path,
            job.intent_body,
            lambda: signed(term, "POST", path, job.intent_body),
        )
        with books.lock:
            books.retries["payment_intent_race"] += 1
        ids, _ = settle_race(books, answers, lambda b: b.get("intent_id"), "payment_in_progress")
        if len(ids) > 1:
            with books.lock:
                books.duplicates["payment_race_answered_differently"] += 1
        first = next((b for st, b in answers if st in (200, 201) and b.get("capture_url")), None)
        if len(ids) != 1 or first is None:
            bump(books, "intent_race_failed")
            return
        status, body = 201, first
    else:
        status, body = rec.call(
            th, "intent_create", "POST", path, job.intent_body, signed(term, "POST", path, job.intent_body)
        )
    if status != 201:
        bump(books, f"intent_{status}")
        return
    intent_id, token = body["intent_id"], body["capture_url"].split("#", 1)[1]
    books.orders[job.order] = intent_id

    def retry_intent(expect_status: str | None) -> None:
        s, b = rec.call(th, "intent_retry", "POST", path, job.intent_body, signed(term, "POST", path, job.intent_body))
        with books.lock:
            books.retries["payment_intent"] += 1
            if s != 200 or b.get("intent_id") != intent_id or (expect_status and b.get("status") != expect_status):
                books.duplicates["payment_retry_answered_differently"] += 1

    if pj.retry == "before":
        retry_intent(None)
    status, view = rec.call(ph, "capture_page", "GET", f"/v1/capture/{token}")
    if status != 200 or not view.get("challenge"):
        bump(books, f"capture_page_{status}")
        return
    if len(view["challenge"]["actions"]) != 1:
        bump(books, "step_up_asked")
        return
    replays.fix_challenge(view["challenge"]["session_id"], job.actions)  # what the take shows
    with replays.showing(job.take):
        status, view = rec.call(
            ph,
            "capture_frames",
            "POST",
            f"/v1/capture/{token}/frames",
            job.frames_prefix + view["challenge"]["nonce"].encode() + job.frames_suffix,
        )
    rpath = f"/v1/terminal/payment-intents/{intent_id}"
    status, seen = rec.call(th, "intent_read", "GET", rpath, None, signed(term, "GET", rpath, b""))
    if status != 200:
        bump(books, f"result_{status}")
        return
    with rec.lock:
        rec.latency["payment_end_to_end"].append((time.perf_counter() - t0) * 1000)
    if seen["status"] != "paid":
        bump(books, f"{seen['status']}:{view.get('decline_reason') or view.get('step') or ''}")
        return
    bump(books, "paid")
    with books.lock:
        books.paid[intent_id] = (job.payer, job.amount_fen)
    if pj.retry == "after":
        retry_intent("paid")
    if pj.refund:
        third = job.amount_fen // 3
        parts = {"full": [job.amount_fen], "partial": [third], "partial+rest": [third, job.amount_fen - third]}[
            pj.refund
        ]
        for k, amount in enumerate(parts):
            do_refund(
                rec, books, term, th, intent_id, job, f"rf-{job.order}-{k}", amount, pj.refund_retry if k == 0 else None
            )


def do_refund(
    rec: Recorder,
    books: Books,
    term: bfp.TerminalCreds,
    th: bfp.Http,
    intent_id: str,
    job: bfp.Job,
    refund_id: str,
    amount: int,
    retry: str | None,
) -> None:
    path = f"/v1/terminal/payment-intents/{intent_id}/refunds"
    body = json.dumps({"refund_id": refund_id, "amount_fen": amount}).encode()
    if retry == "race":
        answers = racing(rec, th.port, "refund_race", "POST", path, body, lambda: signed(term, "POST", path, body))
        with books.lock:
            books.retries["refund_race"] += 1
        ids, again = settle_race(books, answers, lambda b: b.get("transaction_id"), "refund_in_progress")
        if again or not ids:  # told to retry: the retry reads the refund
            status, r = rec.call(th, "refund_retry", "POST", path, body, signed(term, "POST", path, body))
            if status in (200, 201):
                ids.add(r.get("transaction_id"))
        if len(ids) != 1:
            with books.lock:
                books.duplicates["refund_race_answered_differently"] += len(ids) > 1
            bump(books, "refund_race_failed")
            return
        status, r = 201, {"transaction_id": next(iter(ids))}
        retry = False
    else:
        status, r = rec.call(th, "refund", "POST", path, body, signed(term, "POST", path, body))
    if status != 201:
        bump(books, f"refund_{status}")
        return
    with books.lock:
        books.refunds[(intent_id, refund_id)] = (job.payer, amount, r["transaction_id"])
    if retry:
        s, again = rec.call(th, "refund_retry", "POST", path, body, signed(term, "POST", path, body))
        with books.lock:
            books.retries["refund"] += 1
            if s != 200 or again.get("transaction_id") != r["transaction_id"]:
                books.duplicates["refund_retry_answered_differently"] += 1


def installment_pass(
    rec: Recorder, http: bfp.Http, headers: dict, window: bfp.Window, replays: bfp.Replays
) -> str | None:
    status, created = rec.call(
        http,
        "liveness_create",
        "POST",
        "/v1/me/liveness-sessions",
        json.dumps({"purpose": "installment"}).encode(),
        headers,
    )
    if status != 201:
        return None
    replays.fix_challenge(created["session_id"], window.actions)  # the two actions the take shows
    # Keyed by the clip and orientation, not the take: two two-action stretches of one very still
    # person (d9's, two seconds apart) share enough look-alike moments for the defence to take the
    # second for a replay of the first when they come in the other order.
    with replays.showing(f"{window.clip}{'~mirrored' if window.take.mirrored else ''}:two-action"):
        status, decided = rec.call(
            http,
            "liveness_capture",
            "POST",
            f"/v1/me/liveness-sessions/{created['session_id']}/capture",
            json.dumps(window.burst(created["nonce"])).encode(),
            headers,
        )
    if status != 200 or decided.get("status") != "passed":
        rec.note(f"liveness_capture:not_passed:{','.join(decided.get('reasons') or []) or f'http_{status}'}")
        return None
    return created["session_id"]


def do_checkout(
    rec: Recorder, books: Books, world: dict, http: bfp.Http, cj: CheckoutJob, replays: bfp.Replays
) -> None:
    user = cj.payer.user
    h_user = world["user_headers"][user]
    h_api = {"X-Api-Key": world["api_key"]}
    body = json.dumps(
        {
            "merchant_id": world["mall_id"],
            "merchant_order_id": cj.order,
            "amount_fen": cj.amount_fen,
            "category": "electronics",
        }
    ).encode()
    path = f"/v1/accounts/{user}/credit/checkouts"
    status, co = rec.call(http, "checkout_create", "POST", path, body, h_api)
    if status != 201:
        bump(books, f"checkout_{status}")
        return
    if cj.retry_checkout:
        s, again = rec.call(http, "checkout_retry", "POST", path, body, h_api)
        with books.lock:
            books.retries["checkout"] += 1
            if s != 200 or again.get("checkout_id") != co["checkout_id"]:
                books.duplicates["checkout_retry_answered_differently"] += 1
    session_id = installment_pass(rec, http, h_user, cj.window, replays)
    if session_id is None:
        bump(books, "installment_liveness_failed")
        return
    body = json.dumps(
        {"product_id": "mall-installment-fee", "periods": cj.periods, "liveness_session_id": session_id}
    ).encode()
    status, plan = rec.call(
        http, "checkout_confirm", "POST", f"/v1/me/credit/checkouts/{co['checkout_id']}/confirm", body, h_user
    )
    if status != 201:
        bump(books, f"confirm_{status}")
        return
    bump(books, "checkout_confirmed")
    with books.lock:
        books.plans[plan["plan_id"]] = (user, plan["principal_fen"])
    for k in range(cj.repayments):
        key = f"rp-{cj.order}-{k}"
        body = json.dumps({"kind": "installment", "idempotency_key": key}).encode()
        rpath = f"/v1/me/credit/plans/{plan['plan_id']}/repayments"
        if cj.retry_repayments[k] == "race":
            answers = racing(rec, http.port, "repayment_race", "POST", rpath, body, lambda: h_user)
            with books.lock:
                books.retries["repayment_race"] += 1
            ids, again = settle_race(
                books, answers, lambda b: b.get("repayment", {}).get("repayment_id"), "repayment_in_progress"
            )
            made = next((b for st, b in answers if st in (200, 201)), None)
            if again or made is None:
                st, b = rec.call(http, "repayment_retry", "POST", rpath, body, h_user)
                if st in (200, 201):
                    ids.add(b["repayment"]["repayment_id"])
                    made = b
            if len(ids) != 1 or made is None:
                with books.lock:
                    books.duplicates["repayment_race_answered_differently"] += len(ids) > 1
                bump(books, "repayment_race_failed")
                continue
            status = 201
        else:
            status, made = rec.call(http, "repayment", "POST", rpath, body, h_user)
        if status != 201:
            bump(books, f"repayment_{status}")
            continue
        rep = made["repayment"]
        bump(books, "repaid")
        with books.lock:
            books.repayments[rep["repayment_id"]] = (user, rep["amount_fen"])
        if cj.retry_repayments[k] == "seq":
            s, again = rec.call(http, "repayment_retry", "POST", rpath, body, h_user)
            with books.lock:
                books.retries["repayment"] += 1
                if s != 200 or again.get("repayment", {}).get("repayment_id") != rep["repayment_id"]:
                    books.duplicates["repayment_retry_answered_differently"] += 1


def run_load(
    port: int,
    terminals: list,
    users: list[bfp.Payer],
    world: dict,
    pay_jobs: list[PayJob],
    checkout_jobs: list[CheckoutJob],
    seconds: float,
    replays: bfp.Replays,
) -> tuple[Recorder, Books, float]:
    """The terminals take payments off one queue, the users checkouts off another, all at once,
    until the queues are empty or ``seconds`` have passed (a job started is finished)."""
    rec, books = Recorder(), Books()
    lock = threading.Lock()
    pay_queue, co_queue = list(reversed(pay_jobs)), list(reversed(checkout_jobs))
    start = threading.Barrier(len(terminals) + len(users) + 1)
    deadline_box: list[float] = []

    def take(queue):
        with lock:
            if not queue or time.perf_counter() > deadline_box[0]:
                return None
            return queue.pop()

    def terminal_worker(i: int) -> None:
        th, ph = bfp.Http(port), bfp.Http(port)
        try:
            start.wait()
            while (pj := take(pay_queue)) is not None:
                do_payment(rec, books, terminals[i], th, ph, pj, replays)
        finally:
            th.close()
            ph.close()

    def user_worker(i: int) -> None:
        http = bfp.Http(port)
        try:
            start.wait()
            while (cj := take(co_queue)) is not None:
                do_checkout(rec, books, world, http, cj, replays)
        finally:
            http.close()

    threads = [threading.Thread(target=terminal_worker, args=(i,), name=f"terminal-{i}") for i in range(len(terminals))]
    threads += [threading.Thread(target=user_worker, args=(i,), name=f"user-{i}") for i in range(len(users))]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline_box.append(t0 + seconds)
    rec.t0 = t0
    start.wait()
    for t in threads:
        t.join()
    books.outcomes["not_started_time_limit"] = len(pay_queue) + len(co_queue)
    return rec, books, time.perf_counter() - t0


# ------------------------------------------------------------------------------------ the books


def read_database(database_url: str, world: dict) -> dict:
    """What the database says moved (read-only, after the server stopped)."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from facetrust.credit.models import CreditPlan, CreditRepayment
    from facetrust.payments.models import LedgerAccount, LedgerTransaction, PaymentIntent, Posting, Refund

    eng = create_engine(database_url)
    try:
        with Session(eng) as s:

            def moved(kind: str, account_kind: str, sign: int) -> tuple[int, int]:
                q = (
                    select(
                        func.count(func.distinct(LedgerTransaction.id)), func.coalesce(func.sum(Posting.amount_fen), 0)
                    )
                    .join(Posting, Posting.transaction_id == LedgerTransaction.id)
                    .join(LedgerAccount, LedgerAccount.id == Posting.ledger_account_id)
                    .where(LedgerTransaction.kind == kind, LedgerAccount.kind == account_kind)
                )
                n, total = s.execute(q).one()
                return int(n), sign * int(total)

            per_order = (
                select(PaymentIntent.terminal_id, PaymentIntent.merchant_order_id, func.count())
                .where(PaymentIntent.status == "paid")
                .group_by(PaymentIntent.terminal_id, PaymentIntent.merchant_order_id)
                .having(func.count() > 1)
            )
            wallets = dict(
                s.execute(
                    select(LedgerAccount.owner_id, LedgerAccount.balance_fen).where(LedgerAccount.kind == "wallet")
                ).all()
            )
            return {
                "payments": moved("payment", "wallet", -1),
                "refunds": moved("refund", "wallet", 1),
                "repayments": moved("repayment", "wallet", -1),
                "installments": moved("installment", "credit", -1),
                "payment_rows": int(
                    s.execute(
                        select(func.count()).select_from(PaymentIntent).where(PaymentIntent.status == "paid")
                    ).scalar_one()
                ),
                "paid_fen_by_intent": int(
                    s.execute(
                        select(func.coalesce(func.sum(PaymentIntent.amount_fen), 0)).where(
                            PaymentIntent.status == "paid"
                        )
                    ).scalar_one()
                ),
                "refund_rows": int(s.execute(select(func.count()).select_from(Refund)).scalar_one()),
                "plans": int(s.execute(select(func.count()).select_from(CreditPlan)).scalar_one()),
                "repayment_rows": int(
                    s.execute(
                        select(func.count()).select_from(CreditRepayment).where(CreditRepayment.amount_fen > 0)
                    ).scalar_one()
                ),
                "orders_paid_twice": len(s.execute(per_order).all()),
                "balance_sum_fen": int(
                    s.execute(select(func.coalesce(func.sum(LedgerAccount.balance_fen), 0))).scalar_one()
                ),
                "wallets": {k: int(v) for k, v in wallets.items()},
            }
    finally:
        eng.dispose()


def account(
    books: Books, db: dict, ledger: dict, payers: list[bfp.Payer], wallets_before: dict, wallets_after: dict
) -> dict:
    """The invariants: duplicates 0, money created or lost 0, client and database agree."""
    by_user = {p.user: p for p in payers}
    expected = {u: 0 for u in by_user}
    for payer, amount in books.paid.values():
        expected[payer] -= amount
    for payer, amount, _ in books.refunds.values():
        expected[payer] += amount
    for user, amount in books.repayments.values():
        expected[user] -= amount
    wallet_mismatch = {}
    for u, p in by_user.items():
        delta_api = wallets_after.get(u, 0) - wallets_before.get(u, 0)
        delta_db = db["wallets"].get(p.account_id, 0) - wallets_before.get(u, 0)
        if delta_api != expected[u] or delta_db != expected[u]:
            wallet_mismatch[u] = {"expected_delta": expected[u], "api_delta": delta_api, "db_delta": delta_db}
    client = {
        "payments": (len(books.paid), sum(a for _, a in books.paid.values())),
        "refunds": (len(books.refunds), sum(a for _, a, _ in books.refunds.values())),
        "repayments": (len(books.repayments), sum(a for _, a in books.repayments.values() if a)),
        "installments": (len(books.plans), sum(a for _, a in books.plans.values())),
    }
    client["repayments"] = (sum(1 for _, a in books.repayments.values() if a), client["repayments"][1])
    disagreements = {
        k: {"client": list(client[k]), "database": list(db[k])} for k in client if tuple(client[k]) != tuple(db[k])
    }
    duplicates = {
        "retries_answered_differently": dict(books.duplicates),
        "orders_paid_twice": db["orders_paid_twice"],
        "payment_transactions_beyond_paid_intents": max(db["payments"][0] - db["payment_rows"], 0),
        "refund_transactions_beyond_refund_rows": max(db["refunds"][0] - db["refund_rows"], 0),
        "repayment_transactions_beyond_repayment_rows": max(db["repayments"][0] - db["repayment_rows"], 0),
        "charged_not_seen_by_client": max(db["payments"][0] - client["payments"][0], 0),
        "refunds_not_seen_by_client": max(db["refunds"][0] - client["refunds"][0], 0),
        "repayments_not_seen_by_client": max(db["repayments"][0] - client["repayments"][0], 0),
    }
    n_dup = sum(books.duplicates.values()) + sum(
        v for k, v in duplicates.items() if k != "retries_answered_differently"
    )
    lost = db["balance_sum_fen"] + sum(
        abs(v["expected_delta"] - v["db_delta"]) + abs(v["expected_delta"] - v["api_delta"])
        for v in wallet_mismatch.values()
    )
    lost += sum(abs(v["client"][1] - v["database"][1]) for v in disagreements.values())
    invariants = {
        "ledger_check_ok": bool(ledger.get("ok")),
        "duplicates_zero": n_dup == 0,
        "balances_sum_to_zero": db["balance_sum_fen"] == 0,
        "wallet_deltas_match_client": not wallet_mismatch,
        "client_and_database_agree": not disagreements,
        "money_created_or_lost_zero": lost == 0,
    }
    return {
        "charges": {
            "requested": {"count": len(books.requested), "fen": sum(books.requested)},
            "charged": {"count": client["payments"][0], "fen": client["payments"][1]},
            "refunded": {"count": client["refunds"][0], "fen": client["refunds"][1]},
            "database_charged": {"count": db["payments"][0], "fen": db["payments"][1]},
            "database_refunded": {"count": db["refunds"][0], "fen": db["refunds"][1]},
        },
        "credit": {
            "plans": {"count": client["installments"][0], "principal_fen": client["installments"][1]},
            "repaid": {"count": client["repayments"][0], "fen": client["repayments"][1]},
            "database_plans": {"count": db["installments"][0], "principal_fen": db["installments"][1]},
            "database_repaid": {"count": db["repayments"][0], "fen": db["repayments"][1]},
        },
        "retries": dict(books.retries),
        "racing_retries_refused": dict(books.race_errors),
        "duplicates": duplicates,
        "duplicates_total": n_dup,
        "money_created_or_lost_fen": lost,
        "balance_sum_fen": db["balance_sum_fen"],
        "wallet_mismatches": wallet_mismatch,
        "client_database_disagreements": disagreements,
        "invariants": invariants,
        "ok": all(invariants.values()),
    }


def log_problems(path: Path) -> dict:
    """The server log's errors, counted by message (with the service's frame that raised), no stacks."""
    counts: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        if not any(w in line for w in ("Traceback", "ERROR", "unhandled", " 500 ")):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = {"msg": line[:200]}
        if rec.get("logger") == "uvicorn.error":
            continue  # the same exception again, as uvicorn saw it
        if rec.get("route") and rec.get("status"):  # the access log's line for the same request
            counts[f"{rec.get('method')} {rec['route']} -> {rec['status']}"] += 1
            continue
        where = next((f for f in reversed(rec.get("stack") or []) if "/facetrust/" in f), "")
        key = rec.get("msg", "")[:160] + (
            f" [{rec.get('exc_type')} at {where.split('/facetrust/')[-1]}]" if rec.get("exc_type") else ""
        )
        counts[key] += 1
    return {"lines": sum(counts.values()), "by_message": dict(counts.most_common(12))}


def latency_table(rec: Recorder) -> dict:
    return {
        op: {
            "count": len(v),
            "p50_ms": round(bfp.percentile(v, 50), 1),
            "p95_ms": round(bfp.percentile(v, 95), 1),
            "p99_ms": round(bfp.percentile(v, 99), 1),
            "max_ms": round(max(v), 1),
        }
        for op, v in sorted(rec.latency.items())
        if v
    }


# ------------------------------------------------------------------------------------ the setup


def screen_people(args, engine, texture, limits, policy, open_set, need: int) -> list[bfp.Payer]:
    """Payers from the clips (at most ``--users``), each with the setup takes, the two-action takes and
    at least ``need`` payment takes (as the clip has them) that the service's own decision and
    identification pass (bench_face_pay's screening)."""
    import concurrent.futures

    clips = [c if c.endswith(".mp4") else f"{c}.mp4" for c in args.clips.split(",") if c][: args.users]
    payers = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for i, clip in enumerate(clips):
            payer = bfp.screen_payer(i, clip, args.data, engine, texture, limits, policy, pool, need)
            if payer is None:
                print(f"  {clip}: left out (no photo / real-name / enrolment takes the service would accept)")
                continue
            payers.append(payer)
    bfp.screen_identification(engine, open_set, payers)
    return [p for p in payers if p.pay_windows]


def credit_windows(engine, payer: bfp.Payer) -> list[bfp.Window]:
    """Two-action takes left after the setup whose face matches the real-name face at the credit
    profile (with a margin)."""
    from facetrust.biometrics.templates import similarity

    threshold = engine.calibration.profile("credit").threshold + 0.02
    return [w for w in payer.two_windows if similarity(w.template, payer.real_name.template) > threshold]


def replayed(data: Path, windows: list, count: int) -> list:
    """``count`` (payer, window) pairs going round ``windows``: the first round as screened, each later
    round the same takes with its own faint noise (``Window.variant``), to be sent after the content
    fingerprints are forgotten (``bfp.Replays.showing``)."""
    out = []
    for k in range(count if windows else 0):
        p, w = windows[k % len(windows)]
        variant = k // len(windows)
        out.append((p, w if variant == 0 else bfp.take_window(data, w.take, variant)))
    return out


def http_setup(port: int, world: dict, payers: list[bfp.Payer], users: list[bfp.Payer]) -> None:
    """Over HTTP: user tokens, the credit consent and a credit line (granted by a risk analyst) for
    the checkout users, and a mall merchant."""
    from facetrust.consent.notices import NOTICES

    c = bfp.Http(port)

    def ok(status_body, want=(200, 201)):
        status, body = status_body
        if status not in want:
            raise SystemExit(f"setup over HTTP failed: {status} {body}")
        return body

    ha = {"X-Api-Key": world["api_key"]}
    world["user_headers"] = {}
    for p in payers:
        tok = ok(c.request("POST", f"/v1/accounts/{p.user}/tokens", b"", ha))["token"]
        world["user_headers"][p.user] = {"Authorization": f"Bearer {tok}"}
    for p in users:
        h = world["user_headers"][p.user]
        ok(
            c.request(
                "POST",
                "/v1/me/consents/credit_face_verification",
                json.dumps({"notice_version": NOTICES["credit_face_verification"].version}).encode(),
                h,
            )
        )
        ok(
            c.request(
                "PUT",
                f"/v1/operator/accounts/{p.account_id}/credit-line",
                json.dumps({"limit_fen": CREDIT_LIMIT_FEN, "reason": "load test"}).encode(),
                {"Authorization": f"Bearer {world['analyst_token']}"},
            )
        )
    world["mall_id"] = ok(
        c.request(
            "POST",
            "/v1/operator/merchants",
            json.dumps({"tenant_id": world["tenant_id"], "name": "Load Mall", "fee_bps": 60}).encode(),
            {"Authorization": f"Bearer {world['admin_token']}"},
        )
    )["merchant_id"]
    c.close()


def wallets(port: int, world: dict, payers: list[bfp.Payer]) -> dict:
    c = bfp.Http(port)
    try:
        return {
            p.user: c.request("GET", "/v1/me/wallet", None, world["user_headers"][p.user])[1].get("balance_fen")
            for p in payers
        }
    finally:
        c.close()


# ---------------------------------------------------------------------------------------- main


def retry_kind(rng: random.Random, share: float, kinds: tuple[str, ...]) -> str | None:
    """None (no retry) with probability 1 - share, else one of the kinds of retry, evenly."""
    return rng.choice(kinds) if rng.random() < share else None


def parse(argv: list[str] | None):
    from facetrust.settings import get_settings

    defaults = get_settings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=defaults.shared_data, help="shared data (face-clips/)")
    ap.add_argument("--clips", default="d0,d3,d6,d9,d10,d11,d18,s18,s29")
    ap.add_argument("--terminals", type=int, default=8)
    ap.add_argument("--users", type=int, default=9, help="clip people to enrol as payers (at most the clips given)")
    ap.add_argument("--checkout-users", type=int, default=None, help="concurrent users doing checkouts (default: all)")
    ap.add_argument("--payments", type=int, default=40)
    ap.add_argument("--refunds", type=int, default=None, help="payments refunded (default: a quarter)")
    ap.add_argument("--checkouts", type=int, default=8)
    ap.add_argument(
        "--repayments", type=int, default=None, help="installment repayments in all (default: 2 per checkout)"
    )
    ap.add_argument("--retry-share", type=float, default=0.25, help="share of operations retried with the same key")
    ap.add_argument("--seconds", type=float, default=600.0, help="no new operation starts after this long")
    ap.add_argument(
        "--database-url", default=None, help="an EMPTY database (e.g. PostgreSQL); default: a fresh SQLite file"
    )
    ap.add_argument("--json", dest="json_out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", action="store_true")
    return ap.parse_args(argv), defaults


def main(argv: list[str] | None = None) -> int:
    args, defaults = parse(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    work = Path(tempfile.mkdtemp(prefix="facetrust-loadtest-"))
    try:
        report = run(args, defaults, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return 0 if report["books"]["ok"] else 1


def run(args, defaults, work: Path) -> dict:
    from facetrust.settings import Settings

    t_setup = time.perf_counter()
    data_dir = work / "data"
    data_dir.mkdir()
    database_url = args.database_url or f"sqlite:///{data_dir / 'facetrust.db'}"
    models_dir = defaults.resolved_models_dir
    load_env, overrides = bfp.load_settings(work)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("FACETRUST_")}
    env = {
        **base_env,
        "FACETRUST_DATA_DIR": str(data_dir),
        "FACETRUST_DATABASE_URL": database_url,
        "FACETRUST_MODELS_DIR": str(models_dir),
        **load_env,
    }

    from facetrust.bootstrap import face_engine
    from facetrust.gallery.decision import OpenSetPolicy
    from facetrust.liveness.decision import DecisionPolicy
    from facetrust.liveness.service import capture_limits
    from facetrust.liveness.texture import TextureModel

    probe = Settings(_env_file=None, data_dir=data_dir, database_url=database_url, models_dir=models_dir)
    engine = face_engine(probe)
    texture, limits = TextureModel.load(), capture_limits(probe)
    open_set = OpenSetPolicy(
        target_fpir=probe.face_pay_target_fpir,
        margin=probe.face_pay_margin,
        direct_max_gallery=probe.face_pay_direct_max_gallery,
        candidates=probe.face_pay_candidates,
    )
    n_users = min(args.users, len([c for c in args.clips.split(",") if c]))
    print(f"screening up to {n_users} clips' capture takes (the service's own decision)...", flush=True)
    need = -(-args.payments // max(n_users, 1)) + 2  # payment takes per payer (replayed beyond that)
    payers = screen_people(args, engine, texture, limits, DecisionPolicy(), open_set, need)
    if not payers:
        raise SystemExit("no clip person is usable")

    # The work: checkouts on two-action takes (they need the credit match), payments on the payment takes.
    rng = random.Random(args.seed)
    n_co_users = min(args.checkout_users or len(payers), len(payers))
    co_users = [p for p in payers if credit_windows(engine, p)][:n_co_users]
    checkout_jobs: list[CheckoutJob] = []
    per_user = {p.user: credit_windows(engine, p) for p in co_users}
    co_windows = []  # the users interleaved
    for k in range(max((len(ws) for ws in per_user.values()), default=0)):
        co_windows += [(p, per_user[p.user][k]) for p in co_users if k < len(per_user[p.user])]
    n_rep = 2 * args.checkouts if args.repayments is None else args.repayments
    for p, w in replayed(args.data, co_windows, args.checkouts):
        checkout_jobs.append(
            CheckoutJob(
                p,
                w,
                f"co-{len(checkout_jobs):04d}",
                rng.randint(100, 3000) * 100,
                rng.choice([3, 6, 12]),
                0,
                rng.random() < args.retry_share,
                [],
            )
        )
    for i in range(n_rep):
        if checkout_jobs:
            checkout_jobs[i % len(checkout_jobs)].repayments += 1
    for cj in checkout_jobs:
        cj.retry_repayments = [retry_kind(rng, args.retry_share, ("seq", "race")) for _ in range(cj.repayments)]
    windows = [(p, w) for p in payers for w in p.pay_windows]
    rng.shuffle(windows)
    windows = replayed(args.data, windows, args.payments)
    n_ref = len(windows) // 4 if args.refunds is None else min(args.refunds, len(windows))
    pay_jobs = []
    for i, (p, w) in enumerate(windows):
        pay_jobs.append(
            PayJob(
                bfp.make_job(f"ld-{i:05d}", rng.randint(100, 2000), p, w),
                retry_kind(rng, args.retry_share, ("before", "after", "race")),
                ("full", "partial+rest", "full", "partial")[i % 4] if i < n_ref else None,
                retry_kind(rng, min(2 * args.retry_share, 1.0), ("seq", "race")),
            )
        )
    rng.shuffle(pay_jobs)
    if len(pay_jobs) < args.payments or len(checkout_jobs) < args.checkouts:
        print(
            f"WARNING: only {len(pay_jobs)} payment and {len(checkout_jobs)} checkout captures are usable "
            f"(asked for {args.payments} and {args.checkouts})",
            flush=True,
        )

    # The world, in-process on the server's database (bench_face_pay's setup), plus a risk analyst.
    registry = bfp.authority_registry(work, payers)
    env["FACETRUST_AUTHORITY_REGISTRY"] = str(registry)
    server_settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=database_url,
        models_dir=models_dir,
        authority_registry=registry,
        **overrides,
    )
    if args.database_url:
        from sqlalchemy import create_engine as _ce
        from sqlalchemy import inspect

        probe_db = _ce(database_url)
        try:
            if inspect(probe_db).get_table_names():
                raise SystemExit(
                    "the database is not empty (frames, payments and balances of an earlier run would "
                    "skew the books): give an empty database"
                )
        finally:
            probe_db.dispose()
    print(f"setting up {len(payers)} payers (accounts, consents, face real-name, face pay, wallets)...", flush=True)
    world = bfp.setup_world(server_settings, payers, FUND_FEN)
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from facetrust.identity import service

    db = create_engine(database_url, **({"connect_args": {"timeout": 30}} if database_url.startswith("sqlite") else {}))
    with Session(db) as s:
        world["analyst_token"], _ = service.create_operator_token(
            s, "load-analyst", "risk_analyst", dt.timedelta(hours=8)
        )
        s.commit()

    replays = bfp.Replays(database_url)  # fixes challenges and forgets fingerprints, on its own connection
    for p in payers:  # the setup showed these two-action takes
        replays.shown.update(
            f"{w.clip}{'~mirrored' if w.take.mirrored else ''}:two-action" for w in (p.real_name, p.enrol)
        )
    setup_s = time.perf_counter() - t_setup
    port = bfp.free_port()
    server = bfp.Server(env, port, work / "server.log", None)
    try:
        ready = server.wait_ready()
        terminals = bfp.register_terminals(port, world["admin_token"], world["tenant_id"], args.terminals)
        http_setup(port, world, payers, co_users)
        before = wallets(port, world, payers)
        header = (
            f"load test: {len(terminals)} terminals, {len(co_users)} checkout users, {len(payers)} payers; "
            f"{len(pay_jobs)} payments ({n_ref} refunded), {len(checkout_jobs)} checkouts, "
            f"{sum(c.repayments for c in checkout_jobs)} repayments; retry share {args.retry_share}; "
            f"time bound {args.seconds:g} s; database {ready['database']}\n"
            f"service settings: {bfp.LOAD_SETTINGS_NOTE}"
        )
        print(header, flush=True)
        rec, books, elapsed = run_load(port, terminals, co_users, world, pay_jobs, checkout_jobs, args.seconds, replays)
        after = wallets(port, world, payers)
        stop_code = server.stop()
    finally:
        if server.proc.poll() is None:
            server.stop()
        db.dispose()
        replays.close()

    ledger = bfp.cli_json(env, "ledger", "check", "--json")
    dbs = read_database(database_url, world)
    books_report = account(books, dbs, ledger, payers, before, after)
    ops = latency_table(rec)
    report = {
        "benchmark": "load test of the money path over HTTP with money accounting",
        "header": header,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python scripts/loadtest.py " + " ".join(args.argv),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "latencies depend on what else the machine runs: not reference figures unless quiet",
        },
        "setup_seconds": round(setup_s, 1),
        "captures": {
            "payment_takes": sum(len(p.pay_windows) for p in payers),
            "two_action_takes_for_credit": sum(len(credit_windows(engine, p)) for p in co_users),
            "fingerprints_forgotten_before_a_replay": replays.forgotten,
        },
        "duration_s": round(elapsed, 2),
        "throughput": {
            "operations_per_s": round(
                sum(len(v) for k, v in rec.latency.items() if k != "payment_end_to_end") / elapsed, 2
            ),
            "paid_payments_per_s": round(books.outcomes["paid"] / elapsed, 2),
            "checkouts_per_s": round(books.outcomes["checkout_confirmed"] / elapsed, 3),
        },
        "outcomes": dict(books.outcomes),
        "latency_ms": ops,
        "errors": dict(rec.errors),
        "books": books_report,
        "ledger_check": ledger,
        "server_stop_code": stop_code,
        "server_log_problems": log_problems(server.log_path),
        "findings": findings(rec, books),
    }
    print_report(report)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.json_out}")
    return report


def findings(rec: Recorder, books: Books) -> list[str]:
    """What is not a broken invariant but should not happen (reported, not an exit status)."""
    out = []
    server_errors = {k: v for k, v in rec.errors.items() if ":5" in k}
    if server_errors:
        out.append(f"server errors (5xx) under load: {server_errors}")
    refused = {k: v for k, v in books.race_errors.items() if not k.startswith("5")}
    if refused:
        out.append(
            f"a retry racing its first request with the same key was refused instead of answered with the "
            f"original: {refused} (money is safe, but the idempotency contract is not kept)"
        )
    return out


def print_report(r: dict) -> None:
    b = r["books"]
    print(f"\n(machine: {r['machine']['cpus']} cores, load average {r['machine']['load_average_after']} at the end)")
    print(
        f"== {r['duration_s']:.1f} s; {r['throughput']['operations_per_s']} HTTP operations/s, "
        f"{r['throughput']['paid_payments_per_s']} paid payments/s; outcomes {r['outcomes']}"
    )
    print(f"   {'operation':<22}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for op, v in r["latency_ms"].items():
        print(f"   {op:<22}{v['count']:>7}{v['p50_ms']:>9.0f}{v['p95_ms']:>9.0f}{v['p99_ms']:>9.0f}{v['max_ms']:>9.0f}")
    print(f"errors by code: {r['errors'] or 'none'}")
    c = b["charges"]
    print(
        f"charges: requested {c['requested']['count']} ({c['requested']['fen']} fen), charged {c['charged']['count']} "
        f"({c['charged']['fen']} fen), refunded {c['refunded']['count']} ({c['refunded']['fen']} fen); "
        f"database: charged {c['database_charged']}, refunded {c['database_refunded']}"
    )
    cr = b["credit"]
    print(
        f"credit: plans {cr['plans']}, repaid {cr['repaid']}; database plans {cr['database_plans']}, "
        f"repaid {cr['database_repaid']}"
    )
    print(
        f"retries {b['retries']} (racing retries refused: {b['racing_retries_refused'] or 'none'}); duplicates {b['duplicates_total']}; money created or lost {b['money_created_or_lost_fen']} fen; "
        f"balances sum to {b['balance_sum_fen']} fen"
    )
    print(f"ledger check: {'OK' if r['ledger_check'].get('ok') else 'BROKEN'} {json.dumps(r['ledger_check'])}")
    for k, v in b["invariants"].items():
        print(f"  {'ok  ' if v else 'FAIL'} {k}")
    if b["wallet_mismatches"] or b["client_database_disagreements"]:
        print(f"  wallet mismatches {b['wallet_mismatches']}; disagreements {b['client_database_disagreements']}")
    if r["server_log_problems"]["lines"]:
        print(f"server log problems ({r['server_log_problems']['lines']} lines):")
        for k, v in r["server_log_problems"]["by_message"].items():
            print(f"  {v:>4} x {k}")
    for f in r["findings"]:
        print(f"FINDING: {f}")
    print("INVARIANTS " + ("HOLD" if b["ok"] else "FAIL"))


if __name__ == "__main__":
    sys.exit(main())
