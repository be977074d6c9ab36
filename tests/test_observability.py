"""Observability: request ids, JSON logs without personal data, and the Prometheus figures moving
with the requests and decisions they count."""

from __future__ import annotations

import io
import json
import logging
import re
from contextlib import contextmanager

import pytest
from capture import passed_session
from conftest import running_app, served
from facepay import ZHANG, FramePool, face_pay_world, merchant_terminal, pay_with_face
from prometheus_client.parser import text_string_to_metric_families

from facetrust.api.logs import JsonFormatter, configure_logging

ID_NUMBER, MOBILE = "110105198001010016", "13812345678"


@contextmanager
def json_lines(logger: str = ""):
    """The JSON lines the service writes to ``logger`` (root by default) while the block runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger(logger)
    old_level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        target.removeHandler(handler)
        target.setLevel(old_level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


def sample(client, name: str, **labels: str) -> float:
    """The sum of the /metrics samples called ``name`` with these labels (0 before any exists)."""
    families = text_string_to_metric_families(client.get("/metrics").text)
    return sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_request_id_is_echoed_when_safe_and_generated_otherwise(app_ctx):
    client, _, _ = app_ctx
    assert (
        client.get("/health", headers={"X-Request-Id": "platform-7f3a.19"}).headers["X-Request-Id"]
        == "platform-7f3a.19"
    )
    generated = {client.get("/health").headers["X-Request-Id"] for _ in range(2)}
    assert len(generated) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", g) for g in generated)
    for unsafe in ("has spaces", "x" * 65, 'a"b', "../../etc"):
        answered = client.get("/health", headers={"X-Request-Id": unsafe}).headers["X-Request-Id"]
        assert answered != unsafe and re.fullmatch(r"[0-9a-f]{32}", answered)
    refused = client.get("/v1/me", headers={"X-Request-Id": "req-401"})  # errors carry it too
    assert refused.status_code == 401 and refused.headers["X-Request-Id"] == "req-401"


def test_access_log_is_json_with_its_fields_and_no_path_parameters_or_query(app_ctx):
    client, _, hs = app_ctx
    token = "ftc_" + "Q" * 43
    with json_lines("facetrust.access") as lines:
        page = client.get(f"/v1/capture/{token}", headers={"X-Request-Id": "req-capture-1"})
        lookup = client.get("/v1/operator/accounts", params={"q": MOBILE}, headers=hs["op"])
    capture_line, lookup_line = lines
    assert set(capture_line) >= {
        "ts",
        "level",
        "logger",
        "msg",
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
    }
    assert capture_line["request_id"] == "req-capture-1" == page.headers["X-Request-Id"]
    assert (
        capture_line["logger"],
        capture_line["level"],
        capture_line["method"],
        capture_line["route"],
        capture_line["status"],
    ) == ("facetrust.access", "INFO", "GET", "/v1/capture/{token}", page.status_code)
    assert isinstance(capture_line["duration_ms"], float) and capture_line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", capture_line["ts"])
    assert lookup_line["route"] == "/v1/operator/accounts" and lookup_line["status"] == lookup.status_code == 200
    assert lookup_line["request_id"] == lookup.headers["X-Request-Id"]
    written = json.dumps(lines)
    assert token not in written and MOBILE not in written


def test_an_unexpected_error_is_logged_with_the_request_id_and_without_its_message(tmp_path, database_url):
    with running_app(tmp_path, database_url) as (client, app, _):

        def boom() -> None:
            logging.getLogger("facetrust.test").warning("about to fail")  # inside the endpoint's thread
            raise RuntimeError(f"failed for {ID_NUMBER}")

        app.add_api_route("/v1/test-boom", boom)
        with json_lines() as lines:
            r = client.get("/v1/test-boom", headers={"X-Request-Id": "req-boom-1"})
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert r.headers["X-Request-Id"] == "req-boom-1"
    by_logger = {line["logger"]: line for line in lines}
    error = by_logger["facetrust.api"]
    assert error["level"] == "ERROR" and error["request_id"] == "req-boom-1"
    assert error["exc_type"] == "RuntimeError" and any("in boom" in frame for frame in error["stack"])
    assert by_logger["facetrust.test"]["request_id"] == "req-boom-1"
    assert (
        by_logger["facetrust.access"]["request_id"] == "req-boom-1" and by_logger["facetrust.access"]["status"] == 500
    )
    assert ID_NUMBER not in json.dumps(lines)


def test_configure_logging_writes_json_lines_from_every_logger():
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging("INFO", stream)
        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("facetrust.x").debug("below the level")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    (line,) = [json.loads(raw) for raw in stream.getvalue().splitlines()]
    assert (line["logger"], line["msg"], line["request_id"]) == ("uvicorn.error", "Started server process", None)


def test_metrics_expose_request_latency_by_route_template(app_ctx):
    client, _, _ = app_ctx
    labels = {"method": "GET", "route": "/v1/capture/{token}", "status": "4xx"}
    before = sample(client, "facetrust_http_request_duration_seconds_count", **labels)
    client.get("/v1/capture/" + "ftc_" + "Z" * 43)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "facetrust_http_request_duration_seconds_bucket" in r.text and "ftc_" not in r.text
    assert sample(client, "facetrust_http_request_duration_seconds_count", **labels) == before + 1


def test_metrics_count_liveness_and_risk_decisions(app_ctx, shared_data):
    from facetrust.consent.notices import NOTICES

    client, app, hs = app_ctx
    client.post("/v1/accounts", json={"platform_user_id": "m1", "mobile": MOBILE}, headers=hs["a"])
    h = {"Authorization": f"Bearer {client.post('/v1/accounts/m1/tokens', headers=hs['a']).json()['token']}"}
    client.post(
        "/v1/me/consents/kyc_face_verification",
        json={"notice_version": NOTICES["kyc_face_verification"].version},
        headers=h,
    )

    def counts() -> tuple[float, float, float]:
        return (
            sample(client, "facetrust_liveness_decisions_total", purpose="real_name", status="passed"),
            sample(client, "facetrust_liveness_decisions_total", purpose="real_name", status="failed"),
            sum(
                sample(client, "facetrust_risk_decisions_total", outcome=o)
                for o in ("approve", "step_up", "review", "decline", "freeze")
            ),
        )

    passed, failed, risk = counts()
    passed_session(client, app, h, shared_data, "real_name")  # real frames of a real person
    assert counts() == (passed + 1, failed, risk)  # a success is recorded, not decided on by risk
    created = client.post("/v1/me/liveness-sessions", json={"purpose": "real_name"}, headers=h).json()
    r = client.post(
        f"/v1/me/liveness-sessions/{created['session_id']}/capture", json={"nonce": "tampered", "frames": []}, headers=h
    )
    assert r.json()["error"]["code"] == "liveness_nonce_mismatch"
    assert counts() == (passed + 1, failed + 1, risk + 1)  # a failed face attempt is a risk decision


@pytest.fixture()
def face_pay(tmp_path, database_url, shared_data):
    ctx, client, app, hs, tenant = face_pay_world(tmp_path, database_url, shared_data, [ZHANG])
    try:
        yield client, hs, tenant, FramePool(shared_data, app)
    finally:
        ctx.__exit__(None, None, None)


def test_metrics_count_face_payments_by_outcome(face_pay):
    client, hs, tenant, frames = face_pay
    terminal = merchant_terminal(client, hs, tenant)
    declined = {"outcome": "declined"}
    before = sample(client, "facetrust_face_pay_payments_total", **declined)
    _, _, view = pay_with_face(client, frames, terminal, ZHANG, 100, "nobody-enrolled")
    assert view["status"] == "declined"  # nobody switched face pay on
    assert sample(client, "facetrust_face_pay_payments_total", **declined) == before + 1
    assert sample(client, "facetrust_face_pay_payments_total", outcome="declined", reason=view["decline_reason"]) >= 1


def a_passed_real_name_pass(app, platform_user_id: str, photo: bytes) -> str:
    """A passed ``real_name`` liveness session decided by the service's own ``_finish`` over one
    photo's analysis, without a capture: this test is about the authority failing after the pass is
    spent, not about liveness."""
    import datetime as dt

    from facetrust.identity.models import Account
    from facetrust.liveness import service as liveness
    from facetrust.liveness.checks import Check
    from facetrust.liveness.decision import LivenessDecision

    ctx = app.state.liveness
    analysis = ctx.engine.analyse(photo)
    result = LivenessDecision(
        passed=True,
        score=1.0,
        checks={"minted": Check(True, None, {"note": "test helper"})},
        versions={"decision": "test-minted-pass"},
        reference_index=0,
        reference=analysis,
    )
    with app.state.sessions() as s:
        account = s.query(Account).filter_by(platform_user_id=platform_user_id).one()
        row = liveness.create_session(s, ctx, account, "real_name", None)
        liveness._finish(
            s,
            ctx,
            row,
            True,
            [],
            dt.datetime.now(dt.UTC),
            result,
            frame_count=1,
            audit_details={"minted_by_test_helper": True},
        )
        s.commit()
        return row.id


def test_an_adapter_failure_is_a_503_and_every_line_and_the_connection_belong_to_their_request(
    tmp_path, database_url, lfw_bytes
):
    """Issue 19, item 16: a registry row whose photo file is missing answered 500, uvicorn logged the
    exception under another request's id, and the kept-alive connection was reset."""
    import httpx

    from facetrust.consent.notices import NOTICES

    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "citizens.csv").write_text(f"name,id_number,photo\n张伟,{ID_NUMBER},gone.jpg\n", encoding="utf-8")
    with running_app(tmp_path, database_url, authority_registry=registry / "citizens.csv") as (_, app, hs):

        def boom() -> None:
            raise RuntimeError(f"failed for {ID_NUMBER}")

        app.add_api_route("/v1/test-boom", boom)
        with served(app) as url, httpx.Client(base_url=url) as client, json_lines() as lines:

            def call(method: str, path: str, request_id: str, **kw):
                return client.request(method, path, headers={"X-Request-Id": request_id, **kw.pop("headers", {})}, **kw)

            r = call(
                "POST",
                "/v1/accounts",
                "req-account",
                headers=hs["a"],
                json={"platform_user_id": "u1", "mobile": MOBILE},
            )
            assert r.status_code == 201, r.text
            token = call("POST", "/v1/accounts/u1/tokens", "req-token", headers=hs["a"]).json()["token"]
            h = {"Authorization": f"Bearer {token}"}
            r = call(
                "POST",
                "/v1/me/consents/kyc_face_verification",
                "req-consent",
                headers=h,
                json={"notice_version": NOTICES["kyc_face_verification"].version},
            )
            assert r.status_code == 201, r.text
            pass_id = a_passed_real_name_pass(app, "u1", lfw_bytes("Colin_Powell/Colin_Powell_0001.jpg"))
            face = call(
                "POST",
                "/v1/me/real-name/face",
                "req-face",
                headers=h,
                json={"name": "张伟", "id_number": ID_NUMBER, "liveness_session_id": pass_id},
            )
            after_face = call("GET", "/health", "req-after-face")
            boomed = call("GET", "/v1/test-boom", "req-boom")
            after_boom = call("GET", "/health", "req-after-boom")
            history = call("GET", "/v1/me/real-name", "req-history", headers=h)
    assert face.status_code == 503 and face.json()["error"]["code"] == "authority_unavailable", face.text
    assert set(face.json()["error"]) == {"code", "message"} and face.headers["X-Request-Id"] == "req-face"
    assert history.status_code == 200 and history.json() == []  # the failed attempt left nothing
    assert boomed.status_code == 500 and boomed.headers["X-Request-Id"] == "req-boom"
    # The connection survived both failures: the next request on it was answered.
    assert after_face.status_code == 200 and after_boom.status_code == 200
    ours = [line for line in lines if line["logger"] != "httpx"]
    failures = [line for line in ours if line["level"] in ("WARNING", "ERROR")]
    assert {line["request_id"] for line in failures} == {"req-face", "req-boom"}, failures
    assert [line["exc_type"] for line in failures if line["request_id"] == "req-face"] == ["FileNotFoundError"]
    assert not [line for line in ours if line["logger"].startswith("uvicorn")], "the server saw no exception"
    assert ID_NUMBER not in json.dumps(lines) and "gone.jpg" not in json.dumps(lines)
