"""``facetrust serve --workers N``: several service processes on one port over one database, which
agree on what one process would keep to itself (here: one rate limit, not one per process), and a
refusal at start when they could not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from crashworld import REPO, Service

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the worker processes"),
]


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_two_worker_processes_share_one_rate_limit(tmp_path, database_url):
    service = Service(
        tmp_path,
        database_url,
        "--workers",
        "2",
        FACETRUST_RATE_LIMIT_STORE="database",
        FACETRUST_GALLERY_SYNC_SECONDS="0",
        FACETRUST_RATE_LIMIT_AUTH_PER_MINUTE="3",
    )
    created = service.cli("tenants", "create", "shop")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["api_key"]
    service.start(timeout=240)
    try:
        workers = children(service.proc.pid)  # type: ignore[union-attr]
        assert len([w for w in workers if Path(f"/proc/{w}/cmdline").read_bytes()]) >= 2, workers
        h = {"X-Api-Key": key}
        assert (
            httpx.post(
                f"{service.url}/v1/accounts", json={"platform_user_id": "u1", "mobile": "13812345678"}, headers=h
            ).status_code
            == 201
        )
        answers = []
        for _ in range(8):  # a new connection each: the kernel hands them to either worker
            with httpx.Client() as client:
                answers.append(client.post(f"{service.url}/v1/accounts/u1/tokens", headers=h).status_code)
        assert answers[:3] == [201, 201, 201] and set(answers[3:]) == {429}, answers
    finally:
        service.stop()


def test_workers_without_shared_state_are_refused_at_start(tmp_path, database_url):
    env = Service(tmp_path, database_url).env
    done = subprocess.run(
        [sys.executable, "-m", "facetrust", "serve", "--workers", "2"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "settings_invalid" in done.stderr and "FACETRUST_RATE_LIMIT_STORE" in done.stderr
