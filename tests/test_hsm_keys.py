"""Master keys on a PKCS#11 token (Debian's SoftHSM2 through python-pkcs11): sealing and opening
through the token, rotation, the service and the command line on it, the master key never leaving
it, and a copy of the database without the token opening nothing.

Every test gets its own token, initialised in a temporary token folder (SOFTHSM2_CONF) for this test
session. SoftHSM2 reads its token folder once per process, when the library is first loaded, so the
tokens are all made up front. Without SoftHSM2 or python-pkcs11 the tests skip with a reason, unless
FACETRUST_REQUIRE_DATA is set (CI sets it): then they fail (scripts/softhsm.sh installs SoftHSM2).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import absent, running_app, shared_face_engine
from pydantic import ValidationError
from sqlalchemy import create_engine, select, text

from facetrust.biometrics.templates import Template
from facetrust.cli import main
from facetrust.identity import service
from facetrust.identity.models import Tenant
from facetrust.security import template_store
from facetrust.security.envelope import Keyring, KeyUnavailable
from facetrust.security.models import StoredTemplate
from facetrust.settings import Settings, get_settings
from facetrust.store.db import make_engine, session_factory
from facetrust.store.migrate import upgrade

PIN, SO_PIN = "20488402", "87654321"
TOKENS = 16  # one per test that needs a token of its own
LIBRARIES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
REPO = Path(__file__).resolve().parent.parent


@dataclass
class SoftHsm:
    library: str
    conf: Path
    labels: itertools.count

    def token(self) -> str:
        """A freshly initialised token no other test uses (no key on it yet)."""
        n = next(self.labels)
        if n >= TOKENS:
            raise RuntimeError("test_hsm_keys.py needs more tokens: raise TOKENS")
        return f"facetrust-{n}"

    def settings(self, token: str, pin: str = PIN) -> dict:
        return {
            "key_provider": "pkcs11",
            "pkcs11_library": self.library,
            "pkcs11_token_label": token,
            "pkcs11_pin": pin,
        }

    def env(self, token: str, pin: str = PIN) -> dict:
        return {f"FACETRUST_{k.upper()}": str(v) for k, v in self.settings(token, pin).items()}


def _missing(reason: str):
    absent(f"{reason} (scripts/softhsm.sh installs SoftHSM2; pip install python-pkcs11==0.10.1)")


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> SoftHsm:
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        _missing("python-pkcs11 is not installed")
    util = shutil.which("softhsm2-util")
    library = next((lib for lib in LIBRARIES if Path(lib).is_file()), None)
    if util is None or library is None:
        _missing("SoftHSM2 is not installed (no softhsm2-util or libsofthsm2.so)")
    assert util and library
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # for this process's first load of the library, and the CLI's
    for n in range(TOKENS):
        subprocess.run(
            [util, "--init-token", "--free", "--label", f"facetrust-{n}", "--pin", PIN, "--so-pin", SO_PIN],
            check=True,
            capture_output=True,
        )
    return SoftHsm(library, conf, itertools.count())


@pytest.fixture()
def token_ring(softhsm) -> tuple[str, Keyring]:
    from facetrust.bootstrap import keyring

    token = softhsm.token()
    return token, keyring(Settings(**softhsm.settings(token)))


def a_template(seed: int = 5) -> Template:
    return Template("sface-2021dec/align-mesh5", np.random.default_rng(seed).normal(size=128))


def test_seal_and_open_through_the_token(token_ring, tmp_path):
    token, ring = token_ring
    assert ring.provider.name == "pkcs11" and ring.active == "mk-1"  # made on the token at first use
    plain = a_template().to_bytes()
    sealed = ring.seal(plain, b"template:1:face_pay")
    assert plain not in sealed.ciphertext and sealed.master_key_id == "mk-1"
    assert len(sealed.wrapped_key) == 12 + 32 + 16  # nonce, the data key, the GCM tag
    assert ring.open(sealed, b"template:1:face_pay") == plain
    with pytest.raises(KeyUnavailable, match="bound to another record"):
        ring.open(sealed, b"template:2:face_pay")
    altered = type(sealed)(sealed.ciphertext, sealed.wrapped_key[:-1] + bytes([sealed.wrapped_key[-1] ^ 1]), "mk-1")
    with pytest.raises(KeyUnavailable, match="does not open this data key"):
        ring.open(altered, b"template:1:face_pay")
    assert ring.describe() == {
        "provider": "pkcs11",
        "active_key": "mk-1",
        "keys": ["mk-1"],
        "location": f"PKCS#11 token {token!r} ({ring.provider.library})",
    }
    assert not list(tmp_path.iterdir())  # no key file anywhere


def test_the_master_key_never_leaves_the_token(token_ring):
    from pkcs11 import Attribute, KeyType, Mechanism
    from pkcs11 import exceptions as p11

    _, ring = token_ring
    master = ring.provider._key("mk-1")
    with pytest.raises(p11.AttributeSensitive):  # its value cannot be read
        master[Attribute.VALUE]
    assert master[Attribute.SENSITIVE] and not master[Attribute.EXTRACTABLE]
    assert master[Attribute.ALWAYS_SENSITIVE] and master[Attribute.NEVER_EXTRACTABLE]
    assert master[Attribute.TOKEN] and master[Attribute.PRIVATE]
    # Nor can it be wrapped out under another key on the token.
    session = ring.provider._session
    wrapping = session.generate_key(
        KeyType.AES, 256, store=False, template={Attribute.WRAP: True, Attribute.EXTRACTABLE: True}
    )
    with pytest.raises(p11.KeyUnextractable):
        wrapping.wrap_key(master, mechanism=Mechanism.AES_KEY_WRAP_PAD)
    # And it cannot be made extractable afterwards.
    with pytest.raises(p11.PKCS11Error):
        master[Attribute.EXTRACTABLE] = True


def test_rotation_keeps_old_blobs_readable_and_seals_new_ones_under_the_new_key(token_ring):
    _, ring = token_ring
    old = ring.seal(b"old secret", b"t")
    assert ring.rotate() == "mk-2" and ring.active == "mk-2"
    assert ring.provider.key_ids() == ["mk-1", "mk-2"]
    new = ring.seal(b"new secret", b"t")
    assert (old.master_key_id, new.master_key_id) == ("mk-1", "mk-2")
    assert ring.open(old, b"t") == b"old secret" and ring.open(new, b"t") == b"new secret"
    rewrapped = ring.rewrap(old)
    assert rewrapped.master_key_id == "mk-2" and rewrapped.ciphertext == old.ciphertext
    assert ring.open(rewrapped, b"t") == b"old secret"
    assert ring.rotate() == "mk-3" and ring.open(new, b"t") == b"new secret"


def test_one_token_session_serves_many_threads(token_ring):
    _, ring = token_ring
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                aad = f"t:{n}:{i}".encode()
                assert ring.open(ring.seal(aad * 3, aad), aad) == aad * 3
        except BaseException as exc:  # noqa: BLE001  reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_a_second_keyring_on_the_open_token_needs_the_same_pin(softhsm):
    from facetrust.bootstrap import keyring

    token = softhsm.token()
    first = keyring(Settings(**softhsm.settings(token)))
    sealed = first.seal(b"x", b"a")
    assert keyring(Settings(**softhsm.settings(token))).open(sealed, b"a") == b"x"  # the process's one session
    with pytest.raises(KeyUnavailable, match="another PIN") as exc:
        keyring(Settings(**softhsm.settings(token, pin="99999999")))
    assert "99999999" not in str(exc.value)


def test_a_wrong_pin_a_missing_token_or_incomplete_settings_are_refused_by_name(softhsm):
    from facetrust.bootstrap import keyring

    with pytest.raises(KeyUnavailable, match="holds no master key"):  # keys status makes none
        keyring(Settings(**softhsm.settings(softhsm.token())), create=False)
    with pytest.raises(KeyUnavailable, match="refused the PIN \\(FACETRUST_PKCS11_PIN\\)") as exc:
        keyring(Settings(**softhsm.settings(softhsm.token(), pin="11112222")))
    assert "11112222" not in str(exc.value)
    with pytest.raises(KeyUnavailable, match="FACETRUST_PKCS11_TOKEN_LABEL"):
        keyring(Settings(**softhsm.settings("no-such-token")))
    with pytest.raises(ValidationError) as err:
        Settings(key_provider="pkcs11", pkcs11_pin="31415926")
    assert "FACETRUST_PKCS11_LIBRARY" in str(err.value) and "FACETRUST_PKCS11_TOKEN_LABEL" in str(err.value)
    assert "31415926" not in str(err.value)
    with pytest.raises(ValidationError, match="FACETRUST_PKCS11_LIBRARY: no such file"):
        Settings(**{**softhsm.settings("x"), "pkcs11_library": "/nowhere/libpkcs11.so"})
    with pytest.raises(ValidationError, match="exclude each other"):
        Settings(**softhsm.settings("x"), master_key="AAAA")
    assert "31415926" not in repr(Settings(**softhsm.settings("x", pin="31415926")))


def test_the_cli_refuses_a_wrong_pin_with_a_code_and_without_the_pin(softhsm, monkeypatch):
    for name, value in softhsm.env(softhsm.token(), pin="55556666").items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(main, ["keys", "status"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 2
    body = json.loads(r.output)
    assert body["code"] == "key_unavailable" and "FACETRUST_PKCS11_PIN" in body["message"]
    assert "55556666" not in r.output


def _cli(softhsm, token: str, database_url: str, *args: str) -> subprocess.CompletedProcess:
    """``facetrust`` in a process of its own (a rotation by an operator while the service runs)."""
    env = {
        **os.environ,
        **softhsm.env(token),
        "FACETRUST_DATABASE_URL": database_url,
        "SOFTHSM2_CONF": str(softhsm.conf),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [sys.executable, "-m", "facetrust", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_keys_rotate_and_status_on_the_token_while_a_service_keeps_reading(softhsm, tmp_path, database_url):
    from facetrust.bootstrap import keyring

    token = softhsm.token()
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    service_ring = keyring(Settings(**softhsm.settings(token)))  # the running service's keyring
    with sessions() as s:
        tenant, _ = service.create_tenant(s, "shop")
        account = service.register_account(s, tenant, "u1", "13812345678")
        template_store.store(s, service_ring, account.id, "kyc", a_template(), "test")
        template_store.store(s, service_ring, account.id, "face_pay", a_template(6), "test")
        s.commit()
    try:
        r = _cli(softhsm, token, database_url, "keys", "rotate")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout) == {"provider": "pkcs11", "active_key": "mk-2", "rewrapped": 2}
        r = _cli(softhsm, token, database_url, "keys", "status")
        assert r.returncode == 0, r.stdout + r.stderr
        status = json.loads(r.stdout)
        assert {k: status[k] for k in ("provider", "active_key", "keys", "wrapped")} == {
            "provider": "pkcs11",
            "active_key": "mk-2",
            "keys": ["mk-1", "mk-2"],
            "wrapped": {"mk-2": 2},
        }
        assert PIN not in r.stdout + r.stderr
        with sessions() as s:
            assert {row.master_key_id for row in s.execute(select(StoredTemplate)).scalars()} == {"mk-2"}
            # The service still knows only mk-1; it finds mk-2 on the token, and seals under it from then on.
            assert service_ring.active == "mk-1"
            back = template_store.read(s, service_ring, account.id, "kyc", "credit_confirmation", "test")
            assert np.allclose(back.vector, a_template().vector)
            assert service_ring.active == "mk-2" and service_ring.seal(b"x", b"y").master_key_id == "mk-2"
    finally:
        engine.dispose()


def test_keys_rotate_with_the_key_file_still_works(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("FACETRUST_DATABASE_URL", database_url)
    monkeypatch.setenv("FACETRUST_KEYRING_PATH", str(tmp_path / "keys.json"))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(main, ["keys", "status"])  # looks only: no key file is made
        assert r.exit_code == 2 and json.loads(r.output)["code"] == "key_unavailable"
        assert not (tmp_path / "keys.json").exists()
        r = CliRunner().invoke(main, ["keys", "rotate"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output) == {"provider": "file", "active_key": "mk-2", "rewrapped": 0}
        r = CliRunner().invoke(main, ["keys", "status"])
        assert json.loads(r.output) == {
            "provider": "file",
            "location": str(tmp_path / "keys.json"),
            "active_key": "mk-2",
            "keys": ["mk-1", "mk-2"],
            "wrapped": {},
        }
        monkeypatch.setenv("FACETRUST_MASTER_KEY", "A" * 43 + "=")
        get_settings.cache_clear()
        r = CliRunner().invoke(main, ["keys", "rotate"])
        assert r.exit_code == 2 and json.loads(r.output)["code"] == "key_rotation_unavailable"
    finally:
        get_settings.cache_clear()


@contextmanager
def restarted(data_dir: Path, database_url: str, **settings):
    """The service started again over a database that already has its tenants; yields the app."""
    from fastapi.testclient import TestClient

    from facetrust.api.app import create_app

    app = create_app(
        Settings(
            data_dir=data_dir, database_url=database_url, models_dir=get_settings().resolved_models_dir, **settings
        ),
        shared_face_engine(),
    )
    with TestClient(app, raise_server_exceptions=False):
        yield app


def _signed(client, terminal_id: str, secret: str, path: str, body: dict):
    from facetrust.security import signing

    raw = json.dumps(body).encode()
    headers = signing.headers(terminal_id, secret, "POST", path, raw, int(time.time()))
    return client.post(path, content=raw, headers={**headers, "Content-Type": "application/json"})


def test_the_service_on_the_token_and_a_copied_database_without_it(softhsm, tmp_path, database_url):
    token = softhsm.token()
    template = a_template(7)
    for d in ("live", "again", "thief", "thief-app"):
        (tmp_path / d).mkdir()
    with running_app(tmp_path / "live", database_url, **softhsm.settings(token)) as (client, app, hs):
        assert app.state.keyring.provider.name == "pkcs11"
        with app.state.sessions() as s:
            tenant = s.execute(select(Tenant).where(Tenant.name == "shop-a")).scalar_one()
            account = service.register_account(s, tenant, "zhang", "13812345678")
            admin, _ = service.create_operator_token(s, "root", "admin", dt.timedelta(hours=1))
            template_store.store(s, app.state.keyring, account.id, "face_pay", template, "test")  # as enrolment does
            s.commit()
            tenant_id, account_id = tenant.id, account.id
        assert app.state.gallery.size(tenant_id) == 1
        # A terminal's signing secret is sealed through the token by the API, and opened by it on
        # every signed request.
        admin_h = {"Authorization": f"Bearer {admin}"}
        r = client.post("/v1/operator/merchants", json={"tenant_id": tenant_id, "name": "Vending 7"}, headers=admin_h)
        assert r.status_code == 201, r.text
        r = client.post(
            f"/v1/operator/merchants/{r.json()['merchant_id']}/terminals", json={"label": "lobby"}, headers=admin_h
        )
        assert r.status_code == 201, r.text
        terminal_id, secret = r.json()["terminal_id"], r.json()["secret"]
        r = _signed(
            client,
            terminal_id,
            secret,
            "/v1/terminal/payment-intents",
            {"amount_fen": 300, "currency": "CNY", "merchant_order_id": "o1", "idempotency_key": "k1"},
        )
        assert r.status_code == 201, r.text
    assert not (tmp_path / "live" / "keys.json").exists()

    # The service restarts on the same token: the gallery is rebuilt through it.
    with restarted(tmp_path / "again", database_url, **softhsm.settings(token)) as app:
        assert app.state.gallery.size(tenant_id) == 1
        with app.state.sessions() as s:
            hits = app.state.gallery.search(s, app.state.keyring, tenant_id, template, 1, "t", "test")
            assert hits[0].key == account_id and hits[0].score > 0.99

    # The database copied without the token.
    if database_url.startswith("sqlite:///"):
        copy = tmp_path / "stolen.db"
        shutil.copyfile(database_url.removeprefix("sqlite:///"), copy)
        stolen_url = f"sqlite:///{copy}"
    else:  # PostgreSQL: the thief's copy holds the same rows
        stolen_url = database_url
    stolen = create_engine(stolen_url)
    with stolen.connect() as conn:
        rows = conn.execute(text("SELECT * FROM face_templates")).all()
        terminals = conn.execute(text("SELECT secret_sealed, secret_wrapped_key FROM terminals")).all()
    stolen.dispose()
    vector = template.vector.astype("<f4").tobytes()
    raw = b"".join(v for row in rows for v in row if isinstance(v, bytes | memoryview))
    assert len(rows) == 1 and vector[:64] not in bytes(raw) and template.to_bytes()[-64:] not in bytes(raw)
    assert secret.encode() not in b"".join(bytes(v) for row in terminals for v in row)

    from facetrust.bootstrap import keyring

    empty = softhsm.token()
    others = {
        "a fresh token": keyring(Settings(**softhsm.settings(empty))),  # its own mk-1, not the one that wrapped
        "the key file": keyring(Settings(data_dir=tmp_path / "thief")),
    }
    engine = make_engine(stolen_url)
    try:
        with session_factory(engine)() as s:
            for what, ring in others.items():
                assert ring.active == "mk-1", what
                with pytest.raises(KeyUnavailable):
                    template_store.read(s, ring, account_id, "face_pay", "t", "thief")
                with pytest.raises(KeyUnavailable):
                    template_store.read_all(s, ring, "face_pay", "t", "thief")
    finally:
        engine.dispose()
    with pytest.raises(KeyUnavailable, match="no PKCS#11 token"):  # no token at all
        keyring(Settings(**softhsm.settings("the-token-left-behind")))
    # A service started on the copy without the token does not start: its gallery cannot be read.
    with pytest.raises(KeyUnavailable):
        with restarted(tmp_path / "thief-app", stolen_url, **softhsm.settings(empty)):
            pass
