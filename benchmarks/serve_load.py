"""Load test of `unireward serve` on 127.0.0.1 with a tiny real Qwen2.5-VL judge; prints JSON.

    python benchmarks/serve_load.py                      # 1,000 requests, 16 clients, batching on vs off
    python benchmarks/serve_load.py --requests 200 --groups 3

What it measures (each server is a separate `unireward serve` process, so the client never shares its GIL):
- ``batching``: 1,000 one-pair ``/v1/compare`` requests from 16 concurrent clients against the server with
  coalesced batching (``--max-batch 16 --max-wait-ms 5``) and 1,000 against the same server with batching
  off (``--max-batch 1``), side by side: both run at once and rounds of 200 requests alternate between
  them, so other load on the machine hits both alike. Errors, p50/p99 latency, judgments/s, the speed-up,
  and each server's peak RSS during its first and its last 200 requests (sampled every 20 ms from /proc),
  which must stay flat.
- ``groups``: ``/v1/group`` with G = 8 distinct images (both orders: 56 judgments, each image in 14 of
  them) sent alternately to a server with the per-request media cache and one with ``--no-media-cache``:
  median seconds per group and the images decoded.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image


def png_url(seed: int, size: int) -> str:
    rng = np.random.RandomState(seed)
    img = Image.fromarray(rng.randint(0, 255, (size, size, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`unireward serve MODEL ...` in a child process on 127.0.0.1, with its RSS sampled."""

    def __init__(self, model: str, *flags: str):
        self.port = free_port()
        cmd = [sys.executable, "-m", "unireward.cli", "serve", model, "--port", str(self.port), *flags]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()

    def __enter__(self) -> Server:
        end = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("server did not become ready")
            time.sleep(0.2)
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_bytes(self.proc.pid)))
            time.sleep(0.02)

    def peak_rss(self, start: float, end: float) -> int:
        inside = [r for t, r in self.samples if start <= t <= end]
        return max(inside) if inside else 0

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def load(url: str, n: int, clients: int, body: dict) -> list[tuple[float, float, int]]:
    """`n` POSTs of `body` to /v1/compare from `clients` concurrent clients: (start, end, status) each."""
    out: list[tuple[float, float, int]] = []
    counter = iter(range(n))

    async def client(c: httpx.AsyncClient) -> None:
        for _ in counter:
            t = time.monotonic()
            try:
                r = await c.post("/v1/compare", json=body)
                status = r.status_code if r.status_code != 200 or r.json()["verdicts"][0]["error"] is None else 0
            except httpx.HTTPError:
                status = -1
            out.append((t, time.monotonic(), status))

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as c:
        await asyncio.gather(*(client(c) for _ in range(clients)))
    return out


def run_load(model: str, flags: dict[str, list[str]], n: int, clients: int, window: int) -> dict:
    """Both servers up at once; rounds of `window` requests alternate between them (the order flips every
    round), so load from elsewhere on the machine hits both alike."""
    body = {"items": [{"task": "image_generation", "prompt": "a red fox in the snow", "a": png_url(1, 64),
                       "b": png_url(2, 64)}]}
    names = list(flags)
    with Server(model, *flags[names[0]]) as s0, Server(model, *flags[names[1]]) as s1:
        servers = dict(zip(names, (s0, s1)))
        rows: dict[str, list] = {k: [] for k in names}
        wall = dict.fromkeys(names, 0.0)
        rss: dict[str, list[int]] = {k: [] for k in names}
        for srv in servers.values():
            asyncio.run(load(srv.url, 2 * clients, clients, body))  # warm-up
        for r in range(max(1, n // window)):
            for name in names if r % 2 == 0 else names[::-1]:
                srv = servers[name]
                start = time.monotonic()
                rows[name] += asyncio.run(load(srv.url, window, clients, body))
                end = time.monotonic()
                wall[name] += end - start
                rss[name].append(srv.peak_rss(start, end))
        return {name: _summary(flags[name], rows[name], wall[name], rss[name], clients, window) for name in names}


def _summary(flags: list[str], rows: list, wall: float, rss: list[int], clients: int, window: int) -> dict:
    lat = sorted(e - s for s, e, _ in rows)
    return {"flags": " ".join(flags), "requests": len(rows), "clients": clients,
            "errors": sum(1 for *_, st in rows if st != 200), "seconds": round(wall, 2),
            "judgments_per_s": round(len(rows) / wall, 1),
            "p50_ms": round(1000 * statistics.median(lat), 1),
            "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
            f"peak_rss_mb_first_{window}": round(rss[0] / 2**20, 1),
            f"peak_rss_mb_last_{window}": round(rss[-1] / 2**20, 1)}


def run_groups(model: str, flags: dict[str, list[str]], groups: int, g: int, size: int) -> dict:
    """Both servers up; each group is sent to both, alternating which goes first."""
    names = list(flags)
    with Server(model, *flags[names[0]]) as s0, Server(model, *flags[names[1]]) as s1:
        servers = dict(zip(names, (s0, s1)))
        times: dict[str, list[float]] = {k: [] for k in names}
        media: dict[str, dict] = {}
        for k in range(groups + 1):  # the first group warms up
            body = {"task": "image_generation", "prompt": "a red fox in the snow", "both_orders": True,
                    "candidates": [png_url(1000 * k + i, size) for i in range(g)]}
            for name in names if k % 2 == 0 else names[::-1]:
                t = time.monotonic()
                r = httpx.post(servers[name].url + "/v1/group", json=body, timeout=600)
                r.raise_for_status()
                if k:
                    times[name].append(time.monotonic() - t)
                media[name] = r.json()["media"]
        return {name: {"flags": " ".join(flags[name]), "groups": groups, "G": g, "image_px": f"{size}x{size}",
                       "judgments_per_group": g * (g - 1),
                       "seconds_per_group": round(statistics.median(times[name]), 3),
                       "media_per_group": media[name]} for name in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="judge folder (default: a tiny random Qwen2.5-VL built here)")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--window", type=int, default=200, help="requests at the start and end compared for RSS")
    ap.add_argument("--groups", type=int, default=5)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--image-size", type=int, default=512, help="side of the group images, in pixels")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = a.model
        if model is None:
            from unireward.tiny_models import build_tiny

            model = str(build_tiny("qwen2_5_vl", Path(tmp) / "tiny-qwen2.5-vl"))
        common = ["--mode", "logprob", "--device", "cpu"]
        batching = run_load(model, {"on": [*common, "--max-batch", "16", "--max-wait-ms", "5"],
                                    "off": [*common, "--max-batch", "1"]}, a.requests, a.clients, a.window)
        groups = run_groups(model, {"cache_on": common, "cache_off": [*common, "--no-media-cache"]}, a.groups,
                            a.group_size, a.image_size)
    batching["speedup"] = round(batching["on"]["judgments_per_s"] / batching["off"]["judgments_per_s"], 2)
    groups["speedup"] = round(groups["cache_off"]["seconds_per_group"] / groups["cache_on"]["seconds_per_group"], 2)
    report = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                          "load_average": os.getloadavg()}, "batching": batching, "groups": groups}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
