"""Coalescing judgments from concurrent requests into model batches.

Design choices a user will notice:
- Every request is split into judgments (one pair or one candidate each); judgments from all clients wait
  in one queue and a single worker runs them as model batches of at most ``max_batch`` judgments of the
  same form (pair or point). The worker waits at most ``max_wait_ms`` after the oldest waiting judgment
  arrived for the batch to fill, so a lone request is never held long and a busy server runs full batches.
  ``max_batch=1`` turns batching off (one judgment per model call), which the load test compares against.
- The queue is bounded in judgments (``max_pending``): a request that would overflow it is refused whole
  with 429 and ``Retry-After``, before any of its work is queued; memory never grows with the load.
- A request that waits past its deadline answers 503 (Retry-After) and its judgments not yet started are
  dropped; one whose batch is already running answers 504 and the batch finishes (a forward pass cannot be
  stopped half way), its result discarded.
- The model is shared with the OpenAI-compatible chat route: batches take the same asyncio lock as chat
  generations, and the same tokenizer lock, so the two never run on the model at once.
- A judge failure on one judgment is that judgment's `error` (the judge's per-item contract); an unexpected
  exception from the backend fails the judgments of that batch only, and the worker keeps running.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from unireward.serve.errors import ApiError
from unireward.tasks import Form, Score, Verdict


@dataclass(frozen=True)
class BatchConfig:
    """max_batch: judgments per model call (1 = batching off); max_wait_ms: how long the oldest waiting
    judgment may wait for a batch to fill; max_pending: judgments waiting at most (more answer 429)."""

    max_batch: int = 16
    max_wait_ms: float = 5.0
    max_pending: int = 1024

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_pending < 1 or self.max_wait_ms < 0:
            raise ValueError(f"BatchConfig: max_batch and max_pending must be >= 1 and max_wait_ms >= 0, got {self}")


@dataclass
class _Job:
    form: Form
    item: dict[str, Any]
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)
    started: bool = False


class Batcher:
    """One worker that runs queued judgments through `judge` in batches (see the module docstring).

    `on_batch(form, size, seconds)` is called after every model call (metrics).
    """

    def __init__(self, judge: Any, config: BatchConfig, model_lock: asyncio.Lock | None = None,
                 text_lock: threading.Lock | None = None, on_batch: Callable[[Form, int, float], None] | None = None):
        self.judge, self.config = judge, config
        self.model_lock, self.text_lock = model_lock or asyncio.Lock(), text_lock or threading.Lock()
        self.on_batch = on_batch or (lambda form, size, seconds: None)
        self.queue: deque[_Job] = deque()
        self.running = 0  # judgments in the batch on the model now
        self.batches = 0
        self.judgments = 0
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None

    @property
    def pending(self) -> int:
        return len(self.queue)

    # ------------------------------------------------------------------ submitting
    async def submit(self, form: Form, items: list[dict[str, Any]], deadline: float) -> list[Verdict | Score]:
        """Judge `items` (all of `form`) as part of whatever batches form; raises ApiError 429/503/504."""
        self._ensure_worker()
        if self.pending + len(items) > self.config.max_pending:
            raise ApiError(429, f"{self.pending} judgments are waiting and this request adds {len(items)}, over the "
                                f"queue limit of {self.config.max_pending}; retry later", headers={"Retry-After": "1"})
        loop = asyncio.get_running_loop()
        jobs = [_Job(form, item, loop.create_future()) for item in items]
        self.queue.extend(jobs)
        assert self._wake is not None
        self._wake.set()
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return list(await asyncio.gather(*(j.future for j in jobs)))
        except TimeoutError:
            started = any(j.started for j in jobs)
            for j in jobs:
                j.future.cancel()  # a job not yet started is skipped by the worker
            if started:
                raise ApiError(504, "the judgments ran past the request timeout; retry with fewer items or a longer "
                                    "timeout") from None
            raise ApiError(503, "waited past the request timeout for the model; retry later",
                           headers={"Retry-After": "5"}) from None

    # ------------------------------------------------------------------ the worker
    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            self._drop_cancelled()
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._fill()
            batch = self._take()
            if batch:
                await self._run(batch)

    def _drop_cancelled(self) -> None:
        while self.queue and self.queue[0].future.done():
            self.queue.popleft()

    async def _fill(self) -> None:
        """Wait until a full batch of the oldest job's form is queued, or max_wait after it arrived."""
        assert self._wake is not None
        until = self.queue[0].arrived + self.config.max_wait_ms / 1000
        while self._count(self.queue[0].form) < self.config.max_batch:
            left = until - time.monotonic()
            if left <= 0:
                return
            self._wake.clear()
            try:
                async with asyncio.timeout(left):
                    await self._wake.wait()
            except TimeoutError:
                return
            self._drop_cancelled()
            if not self.queue:
                return

    def _count(self, form: Form) -> int:
        return sum(1 for j in self.queue if j.form == form and not j.future.done())

    def _take(self) -> list[_Job]:
        """Up to max_batch live jobs of the oldest job's form, in arrival order; the others stay queued."""
        self._drop_cancelled()
        if not self.queue:
            return []
        form, batch, keep = self.queue[0].form, [], deque()
        while self.queue:
            j = self.queue.popleft()
            if j.future.done():
                continue
            (batch if j.form == form and len(batch) < self.config.max_batch else keep).append(j)
        self.queue = keep
        return batch

    async def _run(self, batch: list[_Job]) -> None:
        import anyio

        for j in batch:
            j.started = True
        self.running = len(batch)
        start = time.monotonic()
        try:
            async with self.model_lock:
                results = await anyio.to_thread.run_sync(self._judge, batch[0].form, [j.item for j in batch])
        except Exception as e:  # the backend itself failed: these judgments fail, the server goes on
            results = [_failed(batch[0].form, f"{type(e).__name__}: {e}")] * len(batch)
        finally:
            self.running = 0
        self.batches += 1
        self.judgments += len(batch)
        self.on_batch(batch[0].form, len(batch), time.monotonic() - start)
        for j, r in zip(batch, results):
            if not j.future.done():
                j.future.set_result(r)

    def _judge(self, form: Form, items: list[dict[str, Any]]) -> list[Verdict | Score]:
        with self.text_lock:
            if form == Form.PAIR:
                return self.judge.compare_batch(items)
            return self.judge.score_batch(items)


def _failed(form: Form, error: str) -> Verdict | Score:
    return Verdict(None, error=error) if form == Form.PAIR else Score(None, error=error)
