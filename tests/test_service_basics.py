"""The service skeleton: health, readiness, and error responses with stable codes and no traces."""

from __future__ import annotations

import pytest
from conftest import shared_face_engine
from fastapi.testclient import TestClient

from facetrust.api.app import create_app
from facetrust.settings import Settings


@pytest.fixture()
def client(tmp_path, database_url):
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    with TestClient(create_app(settings, shared_face_engine()), raise_server_exceptions=False) as c:
        yield c


def test_health_and_ready(client, database_url):
    assert client.get("/health").json()["status"] == "ok"
    body = client.get("/ready").json()
    assert body["status"] == "ready"
    assert body["database"] == ("postgresql" if database_url.startswith("postgresql") else "sqlite")


def test_unknown_route_has_a_stable_code(client):
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_wrong_method_has_a_stable_code(client):
    r = client.post("/health")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_openapi_is_served(client):
    assert client.get("/openapi.json").json()["info"]["title"] == "FaceTrust"
    assert client.get("/docs").status_code == 200


def test_oversize_body_is_refused_before_parsing(tmp_path, database_url):
    from facetrust.api.app import create_app

    settings = Settings(data_dir=tmp_path, database_url=database_url, max_body_bytes=1000)
    with TestClient(create_app(settings, shared_face_engine()), raise_server_exceptions=False) as c:
        r = c.post("/v1/accounts", content=b"x" * 5000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

        def chunks():
            for _ in range(10):
                yield b"y" * 500

        r = c.post("/v1/accounts", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
