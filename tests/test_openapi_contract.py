"""`/openapi.json` is a contract a platform can build on: readable operation ids, the credentials
each route takes as security schemes (not as header parameters), examples on the main requests,
and a Python client generated from it (openapi-python-client) that calls the service for real."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import running_app, served


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from conftest import copy_database

    tmp = tmp_path_factory.mktemp("contract")
    with running_app(tmp, copy_database(tmp)) as (client, app, hs):
        yield client, app, hs, client.get("/openapi.json").json()


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def test_operation_ids_are_the_routes_names_and_unique(live):
    *_, spec = live
    ids = [op["operationId"] for *_, op in operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) and "_v1_" not in i for i in ids), ids
    assert {"register_account", "mint_token", "create_payment_intent", "create_liveness_session"} <= set(ids)


def test_credentials_are_security_schemes_not_header_parameters(live):
    *_, spec = live
    assert set(spec["components"]["securitySchemes"]) == {
        "PlatformApiKey",
        "UserToken",
        "OperatorToken",
        "TerminalSignature",
    }
    by_id = {op["operationId"]: op for *_, op in operations(spec)}
    expected = {
        "register_account": "PlatformApiKey",
        "me": "UserToken",
        "operator_account": "OperatorToken",
        "create_payment_intent": "TerminalSignature",
    }
    for op_id, scheme in expected.items():
        assert scheme in {name for requirement in by_id[op_id]["security"] for name in requirement}, op_id
    for path, method, op in operations(spec):
        headers = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
        assert not headers & {"authorization", "x-api-key", "x-signature"}, (method, path)
        # Every /v1 route but the payer's capture page (its token is the path) and the demo names its scheme.
        if path.startswith("/v1/") and not path.startswith(("/v1/capture/", "/v1/demo")):
            assert op.get("security"), (method, path)


def test_the_main_requests_carry_examples(live):
    *_, spec = live
    schemas = spec["components"]["schemas"]
    for name in ("AccountCreate", "FaceAuthIn", "IntentCreate", "LoanIn", "CheckoutCreate", "LivenessSessionCreate"):
        assert schemas[name].get("examples"), name


def test_a_generated_client_calls_the_service(live, tmp_path):
    client, app, hs, spec = live
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "facetrust_client"
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(tmp_path / "spec.json"),
            "--output-path",
            str(out),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and (out / "client.py").is_file(), done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module("facetrust_client")
        register = importlib.import_module("facetrust_client.api.identity.register_account")
        mint = importlib.import_module("facetrust_client.api.identity.mint_token")
        me = importlib.import_module("facetrust_client.api.identity.me")
        models = importlib.import_module("facetrust_client.models")
        with served(app) as url:
            platform = generated.Client(base_url=url, headers={"X-Api-Key": hs["a"]["X-Api-Key"]})
            account = register.sync(
                client=platform, body=models.AccountCreate(platform_user_id="gen-1", mobile="13812345678")
            )
            assert account.account_id and account.platform_user_id == "gen-1"
            token = mint.sync(client=platform, platform_user_id="gen-1").token
            user = generated.AuthenticatedClient(base_url=url, token=token)
            mine = me.sync(client=user)
            assert mine.account_id == account.account_id and mine.mobile_masked.endswith("5678")
            refused = me.sync_detailed(client=generated.Client(base_url=url))
            assert refused.status_code == 401 and refused.parsed.error.code == "unauthenticated"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "facetrust_client" or m.startswith("facetrust_client.")]:
            del sys.modules[name]
