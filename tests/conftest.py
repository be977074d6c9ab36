"""Shared fixtures: the real face data (found through FACETRUST_SHARED_DATA) and one loaded engine.

Without the data the face tests skip with a reason, unless FACETRUST_REQUIRE_DATA is set (CI sets it),
in which case a missing data folder is an error: a silently skipped suite proves nothing.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from facetrust.settings import get_settings


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = get_settings().shared_data
    missing = [d for d in ("lfw-dev/images", "nuaa-dev/ClientRaw", "nuaa-dev/ImposterRaw", "face-clips")
               if not (path / d).is_dir()]
    if missing:
        message = f"shared face data not found at {path}: no {', '.join(missing)} (set FACETRUST_SHARED_DATA)"
        if os.environ.get("FACETRUST_REQUIRE_DATA"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def lfw(shared_data: Path) -> Path:
    return shared_data / "lfw-dev" / "images"


@pytest.fixture(scope="session")
def lfw_bytes(lfw: Path):
    """Read an LFW image by its relative path, e.g. lfw_bytes("Bono/Bono_0001.jpg")."""
    return lambda rel: (lfw / rel).read_bytes()


@pytest.fixture(scope="session")
def engine():
    from facetrust.biometrics.engine import FaceEngine

    return FaceEngine.from_settings()


@pytest.fixture()
def database_url(tmp_path) -> str:
    """An empty database for one test: PostgreSQL when FACETRUST_TEST_DATABASE_URL names one
    (CI runs the suite once on each), else a fresh SQLite file."""
    url = os.environ.get("FACETRUST_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'test.db'}"
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@contextmanager
def running_app(tmp_path: Path, database_url: str, **settings):
    """A running app over an empty database with two tenants (a, b) and a risk analyst (op);
    yields (client, app, headers by caller)."""
    import datetime as dt

    from fastapi.testclient import TestClient

    from facetrust.api.app import create_app
    from facetrust.identity import service
    from facetrust.settings import Settings

    from facetrust.settings import get_settings

    settings.setdefault("models_dir", get_settings().resolved_models_dir)
    app = create_app(Settings(data_dir=tmp_path, database_url=database_url, **settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        with app.state.sessions() as s:
            (_, key_a), (_, key_b) = service.create_tenant(s, "shop-a"), service.create_tenant(s, "shop-b")
            op_token, _ = service.create_operator_token(s, "alice", "risk_analyst", dt.timedelta(hours=1))
            s.commit()
        yield client, app, {"a": {"X-Api-Key": key_a}, "b": {"X-Api-Key": key_b},
                            "op": {"Authorization": f"Bearer {op_token}"}}


@pytest.fixture()
def app_ctx(tmp_path, database_url):
    with running_app(tmp_path, database_url) as ctx:
        yield ctx
