"""Requests per second and latency of `mnistlite serve`'s prediction API, for two models.

Usage::

    python benchmarks/serve_latency.py [--requests 400] [--threads 8]
    python benchmarks/serve_latency.py --render   # only rewrite the section of RESULTS.md

Starts ``python -m mnistlite serve --port 0`` on 127.0.0.1, sends the picture the page
sends (a 280x280 PNG of a digit drawn from tests/data/strokes.json) to
``POST /api/predict?model=NAME`` from several threads, each with its own connection, and
records every request's latency. Writes ``benchmarks/serve_latency.json`` and the section
between the ``serve-latency`` markers of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
JSON = HERE / "serve_latency.json"
RESULTS = HERE / "RESULTS.md"
BEGIN, END = "<!-- serve-latency: begin -->", "<!-- serve-latency: end -->"
MODELS = ("step7", "lite1k")
COMMAND = "python benchmarks/serve_latency.py"


def picture() -> bytes:
    """The PNG the page would send for the digit 3 of tests/data/strokes.json."""
    import io

    sys.path.insert(0, str(REPO / "tests" / "data"))
    from make_strokes import draw

    strokes = json.loads((REPO / "tests" / "data" / "strokes.json").read_text())["digits"]["3"]
    buffer = io.BytesIO()
    draw(strokes["strokes"]).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def start_server() -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mnistlite", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = process.stdout.readline().split()[2].rstrip("/")
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/health").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer")


def measure(url: str, model: str, body: bytes, requests: int, threads: int) -> dict:
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(_: int) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
            clients.append(local.client)
        start = time.perf_counter()
        answer = local.client.post(
            "/api/predict",
            params={"model": model},
            content=body,
            headers={"Content-Type": "image/png"},
        )
        elapsed = time.perf_counter() - start
        if answer.status_code != 200 or answer.json()["digit"] != 3:
            raise SystemExit(f"{model}: unexpected answer {answer.status_code} {answer.text}")
        return elapsed

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(2 * threads)))  # warm up: load the model, open connections
        start = time.perf_counter()
        latencies = np.array(list(pool.map(one, range(requests))))
        wall = time.perf_counter() - start
    for client in clients:
        client.close()
    return {
        "model": model,
        "requests": requests,
        "threads": threads,
        "wall_s": round(wall, 3),
        "requests_per_s": round(requests / wall, 1),
        "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(1000 * float(np.percentile(latencies, 95)), 1),
    }


def describe_cpu() -> str:
    sys.path.insert(0, str(HERE))
    from machine import describe_cpu as describe

    return describe()["summary"]


def render(data: dict) -> str:
    lines = [
        BEGIN,
        "## Serving: `mnistlite serve`'s prediction API",
        "",
        f"Written by `benchmarks/serve_latency.py` from `benchmarks/serve_latency.json`. "
        f"Machine: {data['machine']}; torch {data['torch']}, Python {data['python']}. "
        f"1-min load before the run: {data['load_before']}.",
        "",
        f"```bash\n{data['command']}\n```",
        "",
        f"Each request posts the 280x280 PNG the page sends ({data['picture_bytes']:,} bytes) "
        f"to `POST /api/predict?model=NAME` on 127.0.0.1, from {data['rows'][0]['threads']} "
        "threads with a connection each; the server and the clients share the machine.",
        "",
        "| model | requests | requests/s | p50 latency | p95 latency |",
        "|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        lines.append(
            f"| {row['model']} | {row['requests']} | {row['requests_per_s']} | "
            f"{row['p50_ms']} ms | {row['p95_ms']} ms |"
        )
    lines.append(END)
    return "\n".join(lines)


def write_section(data: dict) -> None:
    text = RESULTS.read_text() if RESULTS.is_file() else "# Speed measurements\n"
    section = render(data)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--render", action="store_true", help="only rewrite RESULTS.md")
    args = parser.parse_args()
    if not args.render:
        body = picture()
        load = round(os.getloadavg()[0], 2)
        process, url = start_server()
        try:
            rows = [measure(url, m, body, args.requests, args.threads) for m in MODELS]
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        command = COMMAND
        if (args.requests, args.threads) != (400, 8):
            command += f" --requests {args.requests} --threads {args.threads}"
        data = {
            "name": "serve_latency",
            "command": command,
            "machine": describe_cpu(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_before": load,
            "picture_bytes": len(body),
            "rows": rows,
        }
        JSON.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {JSON}")
    write_section(json.loads(JSON.read_text()))
    print(f"wrote the serve-latency section of {RESULTS}")


if __name__ == "__main__":
    main()
