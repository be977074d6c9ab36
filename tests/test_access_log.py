"""The access log names routes by their template: no capture token, id, phone or ID number in it."""

from __future__ import annotations

import logging

from conftest import running_app


def test_access_log_names_route_templates_never_paths_or_queries(tmp_path, database_url, caplog):
    with running_app(tmp_path, database_url) as (client, _, hs):
        token = "ftc_" + "A" * 43
        with caplog.at_level(logging.INFO, logger="facetrust.access"):
            client.get(f"/v1/capture/{token}")
            client.get("/v1/operator/accounts", params={"q": "13812345678"}, headers=hs["op"])
            client.get("/static/ft.css")
            client.get("/no/such/page")
        lines = [r.getMessage() for r in caplog.records if r.name == "facetrust.access"]
        assert [line.split()[:3] for line in lines] == [
            ["GET", "/v1/capture/{token}", "404"],
            ["GET", "/v1/operator/accounts", "200"],
            ["GET", "/static", "200"],
            ["GET", "<unmatched>", "404"],
        ]
        assert not any(token in line or "13812345678" in line for line in lines)
