"""How heavy and how fast the pages are: for every page, the bytes of HTML, scripts and styles it
loads (no API calls) and the time to its load event in headless Chromium, median of several cold
loads (a new browser context each time, so nothing is cached), against `facetrust serve` running
in its own process.

    .venv/bin/python scripts/bench_pages.py [--runs 10] [--json docs/pages-bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from webworld import CHROMIUM, PHONE, chromium  # noqa: E402

from facetrust.settings import get_settings  # noqa: E402
from facetrust.web.pages import PAGES  # noqa: E402


def measure(browser, base_url: str, path: str) -> tuple[float, int, int]:
    """(ms to the load event, bytes of static assets, number of static requests) of one cold load."""
    context = browser.new_context(base_url=base_url, viewport=PHONE)
    page = context.new_page()
    sizes: list[int] = []
    page.on("response", lambda r: sizes.append(len(r.body())) if "/v1/" not in r.url else None)
    page.goto(path, wait_until="load")
    ms = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
    context.close()
    return ms, sum(sizes), len(sizes)


@contextmanager
def service(data_dir: Path):
    """`facetrust serve` in its own process, as deployed, on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "FACETRUST_DATA_DIR": str(data_dir),
        "FACETRUST_MODELS_DIR": str(get_settings().resolved_models_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "facetrust", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit("the service did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"no Chromium at {CHROMIUM} (scripts/chromium.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        with service(Path(tmp)) as base_url, chromium(None) as browser:
            for path in PAGES:
                runs = [measure(browser, base_url, path) for _ in range(args.runs)]
                ms = statistics.median(r[0] for r in runs)
                rows.append(
                    {"page": path, "load_ms_median": round(ms, 1), "bytes": runs[-1][1], "requests": runs[-1][2]}
                )
                print(f"{path:22s} load {ms:6.1f} ms  {runs[-1][1] / 1024:6.1f} KiB in {runs[-1][2]} requests")
    report = {
        "what": "cold loads of each page in headless Chromium against `facetrust serve` on loopback (no throttling)",
        "runs_per_page": args.runs,
        "pages": rows,
        "max_bytes": max(r["bytes"] for r in rows),
        "max_load_ms_median": max(r["load_ms_median"] for r in rows),
    }
    print(
        f"heaviest page {report['max_bytes'] / 1024:.1f} KiB; slowest median load {report['max_load_ms_median']:.1f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
