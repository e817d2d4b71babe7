"""The model behind a unireward server: prompt-length checks, one generation at a time, bounded waiting.

Design choices a user will notice:
- Prompt length is checked BEFORE any model work: first the text alone (before images are fetched or
  decoded), then the full prompt with image tokens. A prompt that fills the context answers 400 "prompt
  is N tokens, the context is M tokens". The context is ``--max-context`` or the model config's
  ``max_position_embeddings``. A prompt that fits but leaves fewer than ``max_tokens`` positions generates
  up to the end of the context (``finish_reason: "length"``), as OpenAI-compatible servers do.
- One generation runs at a time (an asyncio lock, never held by a thread that cannot stop). At most
  ``max_queue`` requests wait; one more answers 429 with Retry-After. A request that waits past its
  timeout answers 503 (Retry-After); one whose generation runs past the timeout is stopped between tokens
  and answers 504.
- A client that disconnects is noticed: queued work for it is never started, and a running generation is
  stopped between tokens (checked every 0.1 s).
- The tokenizer and processor are not thread-safe: their calls are serialised by a separate lock, so
  counting a long prompt never waits for the model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio

from unireward.serve.errors import ApiError
from unireward.serve.limits import Limits


log = logging.getLogger("unireward.serve")


@dataclass
class Sampling:
    """How to generate: greedy unless temperature > 0; `n` choices; stop strings; logprobs."""

    max_new_tokens: int
    n: int = 1
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass
class Completion:
    """One choice: new token ids (eos included when it ended the text), its text, why it ended."""

    ids: list[int]
    text: str
    finish_reason: str
    logits: list[Any] | None = None  # per-step logits of this row, when logprobs were asked for


class ClientGone(Exception):
    """The client disconnected; nobody will read the answer."""


class Engine:
    def __init__(self, judge: Any, limits: Limits):
        self.judge, self.limits, self.tok = judge, limits, judge.tokenizer
        self.context = limits.max_context or context_length(judge.model.config)
        self.eos = eos_ids(judge)
        self.special_tokens = special_tokens(self.tok)
        self._model = asyncio.Lock()
        self._text = threading.Lock()
        self.waiting = 0
        self.stats: Counter[str] = Counter()  # started, completed, cancelled, skipped (client gone), timed_out,
        # queue_full, queue_timeout: what happened to requests that reached the model queue

    # ------------------------------------------------------------------ length checks
    async def check_text_length(self, texts: list[str]) -> None:
        n, exact = await anyio.to_thread.run_sync(self._count, texts)
        if not exact:
            raise ApiError(400, f"prompt is more than {self.context} tokens (counting stopped at {n} tokens), the "
                                f"context is {self.context} tokens; shorten the prompt", "messages")
        if n >= self.context:
            raise ApiError(400, f"prompt is at least {n} tokens (its text alone), the context is {self.context} "
                                "tokens; shorten the prompt", "messages")

    def _count(self, texts: list[str]) -> tuple[int, bool]:
        """Tokens in `texts`: exact, or (far over the context) a count stopped early, flagged not exact.

        Counting goes slice by slice, so a 1 MB prompt is refused after its first slices; cutting at
        slice borders can add a token per border, hence the margin of twice the context before stopping.
        """
        chunk, total = max(4096, 4 * self.context), 0
        with self._text:
            for text in texts:
                for start in range(0, len(text), chunk):
                    total += len(self.tok(text[start:start + chunk], add_special_tokens=False)["input_ids"])
                    if total >= 2 * self.context:
                        return total, False
            return sum(len(ids) for ids in self.tok(texts, add_special_tokens=False)["input_ids"]), True

    async def encode(self, request: Any, prefix: str) -> Any:
        inputs = await anyio.to_thread.run_sync(self._encode, request, prefix)
        n = int(inputs["input_ids"].shape[1])
        if n >= self.context:
            raise ApiError(400, f"prompt is {n} tokens (images included), the context is {self.context} tokens; "
                                "shorten the prompt or send fewer or smaller images", "messages")
        return inputs

    def _encode(self, request: Any, prefix: str) -> Any:
        with self._text:
            return self.judge.encode([request], [prefix])

    # ------------------------------------------------------------------ running
    async def run(self, inputs: Any, sampling: Sampling, deadline: float, is_gone: Any) -> list[Completion]:
        """Generate under the model lock; `is_gone` is an async callable (the client disconnected?)."""
        await self._acquire(deadline)
        cancel = threading.Event()
        try:
            if await is_gone():
                self.stats["skipped"] += 1
                raise ClientGone()
            self.stats["started"] += 1
            watcher = asyncio.create_task(_watch(is_gone, cancel))
            try:
                out = await anyio.to_thread.run_sync(self._generate, inputs, sampling, deadline, cancel)
            finally:
                watcher.cancel()
        finally:
            cancel.set()
            self._model.release()
        self.stats["completed"] += 1
        return out

    async def _acquire(self, deadline: float) -> None:
        if self.waiting >= self.limits.max_queue:
            self.stats["queue_full"] += 1
            raise ApiError(429, f"{self.waiting} requests are waiting for the model; retry later",
                           headers={"Retry-After": "1"})
        self.waiting += 1
        start = time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, deadline - start)):
                await self._model.acquire()
        except TimeoutError:
            self.stats["queue_timeout"] += 1
            raise ApiError(503, f"waited {time.monotonic() - start:.1f} s for the model, past the request timeout "
                                f"of {self.limits.request_timeout:g} s; retry later",
                           headers={"Retry-After": "5"}) from None
        finally:
            self.waiting -= 1

    def _generate(self, inputs: Any, s: Sampling, deadline: float, cancel: threading.Event) -> list[Completion]:
        import torch
        from transformers import StoppingCriteriaList

        prompt_len = int(inputs["input_ids"].shape[1])
        max_new = max(1, min(s.max_new_tokens, self.context - prompt_len))
        guard = _Guard(deadline, cancel, s.stop, self.tok, prompt_len)
        kw: dict[str, Any] = dict(max_new_tokens=max_new, return_dict_in_generate=True, output_logits=s.logprobs,
                                  stopping_criteria=StoppingCriteriaList([guard]), eos_token_id=self.eos)
        sample = s.temperature > 0
        if sample:
            kw.update(do_sample=True, temperature=s.temperature, top_p=s.top_p or 1.0, top_k=0,
                      num_return_sequences=s.n)
            if s.seed is not None:
                torch.manual_seed(s.seed)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.judge.model.generate(**inputs, **kw)
        if guard.why == "cancelled":
            self.stats["cancelled"] += 1
            raise ClientGone()
        if guard.why == "timeout":
            self.stats["timed_out"] += 1
            raise ApiError(504, f"generation stopped at the request timeout of {self.limits.request_timeout:g} s")
        rows = [self._completion(out, r, prompt_len, s) for r in range(out.sequences.shape[0])]
        return rows if sample else rows * s.n

    def _completion(self, out: Any, row: int, prompt_len: int, s: Sampling) -> Completion:
        ids = out.sequences[row, prompt_len:].tolist()
        finish = "length"
        for k, t in enumerate(ids):
            if t in self.eos:
                ids, finish = ids[:k + 1], "stop"
                break
        body = ids[:-1] if finish == "stop" else ids
        text = self.tok.decode(body, skip_special_tokens=True)
        cut = _first_stop(text, s.stop)
        if cut is not None:
            text, finish = text[:cut], "stop"
            ids = _tokens_up_to(self.tok, body, s.stop)
        logits = [step[row] for step in out.logits[:len(ids)]] if s.logprobs else None
        return Completion(ids, text, finish, logits)


async def _watch(is_gone: Any, cancel: threading.Event) -> None:
    while not cancel.is_set():
        if await is_gone():
            log.info("client disconnected; stopping its generation")
            cancel.set()
            return
        await asyncio.sleep(0.1)


def _guard_base() -> type:
    from transformers import StoppingCriteria

    return StoppingCriteria


class _Guard(_guard_base()):  # type: ignore[misc]
    """Stops generation at the deadline, on cancellation, or (per row) once a stop string appears."""

    def __init__(self, deadline: float, cancel: threading.Event, stop: list[str], tok: Any, prompt_len: int):
        self.deadline, self.cancel, self.stop, self.tok = deadline, cancel, stop, tok
        self.prompt_len, self.why = prompt_len, ""
        self.window = 4 * max((len(x) for x in stop), default=0) + 4  # tokens that can hold any stop string

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        rows = input_ids.shape[0]
        if self.cancel.is_set() or time.monotonic() > self.deadline:
            self.why = self.why or ("cancelled" if self.cancel.is_set() else "timeout")
            return torch.ones(rows, dtype=torch.bool, device=input_ids.device)
        if not self.stop:
            return torch.zeros(rows, dtype=torch.bool, device=input_ids.device)
        tails = self.tok.batch_decode(input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window):],
                                      skip_special_tokens=True)
        return torch.tensor([any(x in t for x in self.stop) for t in tails], device=input_ids.device)


def _first_stop(text: str, stops: list[str]) -> int | None:
    hits = [i for i in (text.find(x) for x in stops) if i >= 0]
    return min(hits) if hits else None


def _tokens_up_to(tok: Any, ids: list[int], stops: list[str]) -> list[int]:
    """The shortest prefix of `ids` whose text holds a stop string (the tokens actually generated)."""
    for k in range(1, len(ids) + 1):
        if _first_stop(tok.decode(ids[:k], skip_special_tokens=True), stops) is not None:
            return ids[:k]
    return ids


# ---------------------------------------------------------------------- model facts
def context_length(config: Any) -> int:
    """max_position_embeddings of the language model (top level or text_config)."""
    for cfg in (config, getattr(config, "get_text_config", lambda: None)(), getattr(config, "text_config", None)):
        n = getattr(cfg, "max_position_embeddings", None) if cfg is not None else None
        if n:
            return int(n)
    raise ValueError("the model config has no max_position_embeddings; pass --max-context")


def eos_ids(judge: Any) -> list[int]:
    """End-of-text ids as a list, whether the generation config holds an int, a list or nothing."""
    eos = judge.model.generation_config.eos_token_id
    if eos is None:
        eos = judge.tokenizer.eos_token_id
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if not ids:
        raise ValueError("the model has no eos_token_id in its generation config or tokenizer")
    return [int(i) for i in ids]


def special_tokens(tok: Any) -> list[str]:
    """Special tokens a client must not type as text (image slots, turn markers, padding)."""
    found = set(tok.all_special_tokens)
    found |= {t.content for t in getattr(tok, "added_tokens_decoder", {}).values() if getattr(t, "special", False)}
    return sorted(t for t in found if t)
