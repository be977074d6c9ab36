"""Shared fixtures: the real face data (found through FACETRUST_SHARED_DATA) and one loaded engine.

Without the data the face tests skip with a reason, unless FACETRUST_REQUIRE_DATA is set (CI sets it),
in which case a missing data folder is an error: a silently skipped suite proves nothing.
"""

from __future__ import annotations

import inspect
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from facetrust.settings import get_settings


def absent(message: str):
    """Something a test needs is not here: skip with the reason, or fail when FACETRUST_REQUIRE_DATA is
    set (CI sets it): a silently skipped suite proves nothing."""
    if os.environ.get("FACETRUST_REQUIRE_DATA"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = get_settings().shared_data
    missing = [
        d
        for d in ("lfw-dev/images", "nuaa-dev/ClientRaw", "nuaa-dev/ImposterRaw", "face-clips")
        if not (path / d).is_dir()
    ]
    if missing:
        absent(f"shared face data not found at {path}: no {', '.join(missing)} (set FACETRUST_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def lfw(shared_data: Path) -> Path:
    return shared_data / "lfw-dev" / "images"


@pytest.fixture(scope="session")
def lfw_bytes(lfw: Path):
    """Read an LFW image by its relative path, e.g. lfw_bytes("Bono/Bono_0001.jpg")."""
    return lambda rel: (lfw / rel).read_bytes()


# The settings a face engine reads: an app whose test changes one of them loads its own engine.
ENGINE_SETTINGS = frozenset(
    {
        "models_dir",
        "data_dir",
        "threads",
        "detector_score_threshold",
        "detector_max_side",
        "min_face_px",
        "min_detector_confidence",
        "min_sharpness",
        "min_brightness",
        "max_brightness",
        "max_yaw_deg",
        "max_pitch_deg",
        "max_roll_deg",
        "max_eye_closure",
        "second_face_ratio",
        "max_image_bytes",
        "max_image_pixels",
        "min_image_side",
    }
)


@lru_cache(maxsize=1)
def shared_face_engine():
    """The face models, loaded once per test session and handed to every app that can share them."""
    from facetrust.bootstrap import face_engine

    return face_engine()


def face_engine_for(overrides: dict):
    """The shared engine, unless ``overrides`` (an app's settings) change what an engine reads."""
    return None if ENGINE_SETTINGS & {k.lower() for k in overrides} else shared_face_engine()


@pytest.fixture(scope="session")
def engine():
    return shared_face_engine()


def _pg_admin(url: str):
    """A connection engine to the server's maintenance database: a database cannot be dropped or
    copied over from inside itself."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _pg_recreate(url: str, template: str | None = None) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = _pg_admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()


@lru_cache(maxsize=1)
def migrated_template() -> str:
    """The migrations, run once per test session: a SQLite file, or a PostgreSQL template database,
    that each test's database is copied from (half a second of migrations per test on SQLite, more
    on PostgreSQL). ``empty_database_url`` keeps the migrations from scratch under test."""
    import tempfile

    from sqlalchemy.engine import make_url

    from facetrust.store.migrate import upgrade

    url = os.environ.get("FACETRUST_TEST_DATABASE_URL")
    if not url:
        path = Path(tempfile.mkdtemp(prefix="facetrust-migrated-")) / "migrated.db"
        upgrade(f"sqlite:///{path}")
        return str(path)
    template = make_url(url).set(database="facetrust_migrated").render_as_string(hide_password=False)
    _pg_recreate(template)
    upgrade(template)  # alembic's own engine is closed after the upgrade
    return "facetrust_migrated"


def copy_database(tmp: Path) -> str:
    """A migrated database of its own (PostgreSQL when FACETRUST_TEST_DATABASE_URL names one, else
    SQLite in ``tmp``), copied from ``migrated_template``; for worlds shared by a module."""
    url = os.environ.get("FACETRUST_TEST_DATABASE_URL")
    if not url:
        path = tmp / "test.db"
        shutil.copyfile(migrated_template(), path)
        return f"sqlite:///{path}"
    _pg_recreate(url, template=migrated_template())
    return url


@pytest.fixture()
def empty_database_url(tmp_path) -> str:
    """An empty database for one test: PostgreSQL when FACETRUST_TEST_DATABASE_URL names one
    (CI runs the suite once on each), else a fresh SQLite file."""
    url = os.environ.get("FACETRUST_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'empty.db'}"
    _pg_recreate(url)
    return url


@pytest.fixture()
def database_url(tmp_path) -> str:
    """A migrated database of its own for one test (``copy_database``)."""
    return copy_database(tmp_path)


@contextmanager
def app_over(tmp_path: Path, database_url: str, **settings):
    """A running app over ``database_url`` as it is, its data in ``tmp_path``; yields (client, app)."""
    from fastapi.testclient import TestClient

    from facetrust.api.app import create_app
    from facetrust.settings import Settings, get_settings

    shared = face_engine_for(settings)
    settings.setdefault("models_dir", get_settings().resolved_models_dir)
    app = create_app(Settings(data_dir=tmp_path, database_url=database_url, **settings), shared)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, app


@contextmanager
def running_app(tmp_path: Path, database_url: str, **settings):
    """A running app over an empty database with two tenants (a, b) and a risk analyst (op);
    yields (client, app, headers by caller)."""
    import datetime as dt

    from facetrust.identity import service

    with app_over(tmp_path, database_url, **settings) as (client, app):
        with app.state.sessions() as s:
            (_, key_a), (_, key_b) = service.create_tenant(s, "shop-a"), service.create_tenant(s, "shop-b")
            op_token, _ = service.create_operator_token(s, "alice", "risk_analyst", dt.timedelta(hours=1))
            s.commit()
        yield (
            client,
            app,
            {"a": {"X-Api-Key": key_a}, "b": {"X-Api-Key": key_b}, "op": {"Authorization": f"Bearer {op_token}"}},
        )


# --- worlds built once ------------------------------------------------------------------------------
#
# A face world (people who passed real-name authentication with real captures, a merchant, ...) takes
# seconds to build, mostly the captures. ``world_snapshot`` builds one once per session (per key: the
# settings it was built with) into a database and data folder of its own, closed; each test then gets
# a copy (``restore``: a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL, and the
# data folder with its keyring) and opens its own app over it. A snapshot older than WORLD_MAX_AGE is
# built again, so its tokens are fresh and its events as recent as in a world built for the test.

WORLD_MAX_AGE = 600.0  # seconds


@dataclass
class Snapshot:
    database: str  # a SQLite file, or the name of a PostgreSQL database used as a template
    data_dir: Path  # the app's data folder (keyring, authority registry, ...)
    state: dict  # what the builder returned: keys, tokens, ids, the takes used
    made: float


_snapshots: dict = {}


def world_snapshot(key, build) -> Snapshot:
    """The snapshot of ``build(data_dir, database_url) -> state`` for ``key``, built on first use."""
    import tempfile
    import time

    from sqlalchemy.engine import make_url

    snap = _snapshots.get(key)
    if snap is not None and time.monotonic() - snap.made < WORLD_MAX_AGE:
        return snap
    root = Path(tempfile.mkdtemp(prefix="facetrust-world-"))
    (root / "data").mkdir()
    url = os.environ.get("FACETRUST_TEST_DATABASE_URL")
    if not url:
        database = str(root / "world.db")
        shutil.copyfile(migrated_template(), database)
        built_url = f"sqlite:///{database}"
    else:
        database = f"facetrust_world_{len(_snapshots)}_{int(time.monotonic() * 1000)}"
        built_url = make_url(url).set(database=database).render_as_string(hide_password=False)
        _pg_recreate(built_url, template=migrated_template())
    _snapshot_roots.append(root)
    state = build(root / "data", built_url)  # closes its app: a template database has no connections
    snap = _snapshots[key] = Snapshot(database, root / "data", state, time.monotonic())
    return snap


_snapshot_roots: list[Path] = []


def pytest_sessionfinish(session):
    for root in _snapshot_roots:  # the SQLite snapshots and data folders (PostgreSQL's go with the server)
        shutil.rmtree(root, ignore_errors=True)


def restore(snap: Snapshot, tmp_path: Path, database_url: str) -> None:
    """The snapshot's database copied over the test's ``database_url``, and its data folder into
    ``tmp_path``."""
    from sqlalchemy.engine import make_url

    shutil.copytree(snap.data_dir, tmp_path, dirs_exist_ok=True)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(snap.database, url.database)
    else:
        _pg_recreate(database_url, template=snap.database)


def settings_key(settings: dict) -> tuple:
    """A snapshot key for an app's settings: a file setting by its content, not its path (a test's
    rule set is written into its own folder)."""

    def value(v):
        return ("file", Path(v).read_bytes()) if isinstance(v, Path) and v.is_file() else v

    return tuple(sorted((k, value(v)) for k, v in settings.items()))


@pytest.fixture()
def app_ctx(tmp_path, database_url):
    with running_app(tmp_path, database_url) as ctx:
        yield ctx


@contextmanager
def served(app):
    """The app (already started by a TestClient) served by a real uvicorn on a free local port, the
    way ``facetrust serve`` runs it (its own logs through ours); yields the base URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


# --- markers --------------------------------------------------------------------------------------
#
# Every test gets one kind (pyproject's [tool.pytest.ini_options] markers): ``browser`` and ``system``
# by the module's ``pytestmark``; otherwise ``unit`` if nothing it runs can reach a database, ``api``
# if it calls the app over HTTP, else ``db``. scripts/test.sh runs everything on SQLite and
# ``-m "not unit and not browser"`` on PostgreSQL, so ``unit`` must never be wrong: it is decided from the test's and
# its fixtures' source (conservatively: a mention of a database or an app is enough), and the SQLite
# run fails a ``unit`` test that opens a database connection all the same (``_guard_unit``).

KINDS = ("unit", "db", "api", "browser", "system")
DATABASE_FIXTURES = frozenset({"database_url", "empty_database_url", "app_ctx"})
DATABASE_WORDS = (
    "database_url",
    "copy_database",
    "migrated_template",
    "running_app",
    "create_app",
    "make_engine",
    "session_factory",
    "upgrade(",
    "face_pay_world",
    "web_world",
    "World(",
    "DbApp",
    "Service(",
    "sessions(",
    "FACETRUST_TEST_DATABASE_URL",
    "FACETRUST_DATABASE_URL",
    "sqlite",
)
HTTP_WORDS = ("app_ctx", "client", "world", "running_app", "create_app", "face_pay_world", "web_world", "served(")


@cache
def _source(func) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return ""


def _sources(item) -> list[str]:
    """The test's own source and that of every fixture it requests, directly or not (pytest's own
    fixtures, from its plugins, are left out: they reach no database)."""
    out = [_source(getattr(item, "function", None))]
    for defs in item._fixtureinfo.name2fixturedefs.values():
        for fixturedef in defs:
            module = getattr(fixturedef.func, "__module__", "") or ""
            if not module.startswith(("_pytest", "pytest", "hypothesis")):
                out.append(_source(fixturedef.func))
    return out


def kind_of(item) -> str:
    declared = [k for k in ("browser", "system") if item.get_closest_marker(k)]
    if declared:
        return declared[0]
    sources = _sources(item)
    if not DATABASE_FIXTURES & set(item.fixturenames) and not any(w in s for s in sources for w in DATABASE_WORDS):
        return "unit"
    if "app_ctx" in item.fixturenames or any(w in s for s in sources for w in HTTP_WORDS):
        return "api"
    return "db"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not any(item.get_closest_marker(k) for k in KINDS):
            item.add_marker(kind_of(item))


_connections: list[str] = []
_watching = [False]


@event.listens_for(Engine, "engine_connect")
def _seen(connection) -> None:
    if _watching[0]:
        _connections.append(str(connection.engine.url))


def _guard_unit(item):
    """Run a phase of a ``unit`` test watching for database connections; fail it if one is made."""
    if item.get_closest_marker("unit") is None:
        return (yield)
    _connections.clear()
    _watching[0] = True
    try:
        result = yield
    finally:
        _watching[0] = False
    if _connections:
        pytest.fail(
            f"marked unit, but connected to {_connections[0]}: a unit test never touches a database "
            "(PostgreSQL does not run it); request database_url, or mark it db"
        )
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guard_unit(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _guard_unit(item))
