"""`RewardClient`: an async HTTP client for `unireward serve`, with retries and timeouts.

Design choices a user will notice:
- Async first (httpx.AsyncClient, one connection pool per event loop), so rewards can overlap rollouts;
  every method has a blocking twin through `run_sync`, which also works inside a running event loop.
- 408, 409, 429, 500, 502, 503, 504, timeouts and dropped connections are retried with exponential
  back-off, honouring the server's ``Retry-After``; any other 4xx is the request's fault and raises at once
  with the server's message (the field it names). After ``max_retries`` the last error is raised.
- Requests larger than the server's per-request judgment limit are split (``max_items``) and sent
  concurrently.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any


RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class RewardServerError(RuntimeError):
    """The reward server refused a request (status and its message) or could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RewardClient:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 180.0, max_retries: int = 5,
                 backoff: float = 0.5, max_items: int = 256):
        self.url, self.api_key, self.timeout = url.rstrip("/"), api_key, timeout
        self.max_retries, self.backoff, self.max_items = max_retries, backoff, max_items
        self.calls = 0  # HTTP requests sent, retries included
        self._clients: dict[int, tuple[Any, Any]] = {}  # per event loop: (loop, httpx.AsyncClient)

    # ------------------------------------------------------------------ HTTP
    def _client(self) -> Any:
        import httpx

        loop = asyncio.get_running_loop()
        entry = self._clients.get(id(loop))
        if entry is None or entry[0] is not loop or entry[1].is_closed:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            entry = (loop, httpx.AsyncClient(timeout=self.timeout, headers=headers, trust_env=False))
            self._clients = {k: e for k, e in self._clients.items() if not e[0].is_closed()}
            self._clients[id(loop)] = entry
        return entry[1]

    async def post(self, path: str, body: dict) -> dict:
        """POST `body` to `path`, retrying transient failures; returns the JSON answer."""
        import httpx

        client = self._client()
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            last = attempt == self.max_retries
            try:
                r = await client.post(self.url + path, json=body)
            except (httpx.TimeoutException, httpx.TransportError) as e:
                if last:
                    raise RewardServerError(f"no answer from {self.url}{path} after {attempt + 1} tries "
                                            f"({type(e).__name__}: {e})") from None
                await asyncio.sleep(self._delay(attempt, None))
                continue
            if r.status_code < 400:
                return r.json()
            if r.status_code not in RETRY_STATUS or last:
                raise RewardServerError(f"{self.url}{path} answered {r.status_code}: {_message(r)}", r.status_code)
            await asyncio.sleep(self._delay(attempt, r.headers.get("retry-after")))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        base = self.backoff * 2 ** attempt * (0.5 + random.random())
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            return max(base, min(float(retry_after), 60.0))
        return base

    async def aclose(self) -> None:
        """Close the connection pool of the running event loop."""
        entry = self._clients.pop(id(asyncio.get_running_loop()), None)
        if entry is not None:
            await entry[1].aclose()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The blocking twin of an async method (``client.call("score", items)``); closes its pool after."""
        async def go() -> Any:
            try:
                return await getattr(self, method)(*args, **kwargs)
            finally:
                await self.aclose()

        return run_sync(go)

    # ------------------------------------------------------------------ routes
    async def score(self, items: list[dict]) -> list[dict]:
        """``/v1/score`` for items {task, prompt, candidate, media} (media as references)."""
        return await self._chunked("/v1/score", items, "scores")

    async def compare(self, items: list[dict]) -> list[dict]:
        """``/v1/compare`` for items {task, prompt, a, b, media}."""
        return await self._chunked("/v1/compare", items, "verdicts")

    async def group(self, task: str, prompt: str, candidates: list[Any], media: Any = None,
                    both_orders: bool = False, soft: bool = False) -> dict:
        """``/v1/group``: the answer with ``win_rates``, ``pairs``, ``failed``."""
        body = {"task": task, "prompt": prompt, "candidates": candidates, "both_orders": both_orders, "soft": soft}
        if media is not None:
            body["media"] = media
        return await self.post("/v1/group", body)

    async def _chunked(self, path: str, items: list[dict], key: str) -> list[dict]:
        chunks = [items[i:i + self.max_items] for i in range(0, len(items), self.max_items)]
        answers = await asyncio.gather(*(self.post(path, {"items": c}) for c in chunks))
        return [x for a in answers for x in a[key]]


def run_sync(coro_factory: Any) -> Any:
    """Run ``coro_factory()`` to completion from plain code, or from inside a running loop (in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro_factory())
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _message(r: Any) -> str:
    try:
        err = r.json().get("error")
        return str(err.get("message") if isinstance(err, dict) else err)[:1000]
    except (ValueError, AttributeError):
        return r.text[:1000]
