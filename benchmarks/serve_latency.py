"""Requests per second and latency of `mnistlite serve`'s prediction API, for two models.

Usage: python benchmarks/serve_latency.py [--requests 400] [--threads 8]

Posts the PNG the page sends (the digit 3 of tests/data/strokes.json) to a local server
from several threads, each with its own connection.
"""

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import results_md
from common import HERE, REPO, describe_machine, save_result

MODELS = ("step7", "lite1k")


def picture() -> bytes:
    """The PNG the page would send for the digit 3 of tests/data/strokes.json."""
    sys.path.insert(0, str(REPO / "tests" / "data"))
    from make_strokes import draw

    strokes = json.loads((REPO / "tests" / "data" / "strokes.json").read_text())["digits"]["3"]
    buffer = io.BytesIO()
    draw(strokes["strokes"]).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def start_server() -> tuple[subprocess.Popen, str]:
    """``mnistlite serve`` on a free port of 127.0.0.1, once it answers; the process, its URL."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen([sys.executable, "-m", "mnistlite", "serve", "--port", "0"],
                               env={**os.environ, "PYTHONPATH": path}, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    url = process.stdout.readline().split()[2].rstrip("/")
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/health").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer")


def measure(url: str, model: str, body: bytes, requests: int, threads: int) -> dict:
    """Post ``body`` ``requests`` times from ``threads`` threads: requests/s, p50 and p95."""
    local, clients = threading.local(), []

    def one(_: int) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
            clients.append(local.client)
        start = time.perf_counter()
        answer = local.client.post("/api/predict", params={"model": model}, content=body,
                                   headers={"Content-Type": "image/png"})  # fmt: skip
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
    ms = {f"p{q}_ms": round(1000 * float(np.percentile(latencies, q)), 1) for q in (50, 95)}
    return {"model": model, "requests": requests, "threads": threads, "wall_s": round(wall, 3),
            "requests_per_s": round(requests / wall, 1), **ms}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    body, machine = picture(), describe_machine(threads=False)
    process, url = start_server()
    try:
        rows = [measure(url, m, body, args.requests, args.threads) for m in MODELS]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    settings = {"picture_bytes": len(body), "threads": args.threads, "requests": args.requests}
    save_result(HERE / "serve_latency.json", rows, settings, machine)
    print(f"wrote {results_md.write()}")


if __name__ == "__main__":
    main()
