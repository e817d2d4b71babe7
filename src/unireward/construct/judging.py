"""Judging candidates through a cache: the bridge between the pure strategies and a live judge.

`CachedJudge` turns the strategies' index-based requests (``compare([(i, j)])``, ``score([i])``) into judge
items, answers them from the store when it can, sends the rest to the judge in batches, and records every
new answer. `decide_chunk` runs every prompt's strategy of a chunk in rounds, so that each round's
judgments (the fixed pairs of every prompt, then the swapped re-judging of ties, then the scores) go to
the judge as one batch.

Design choices a user will notice:
- A judgment is cached under the judge's identity (`judge_identity`: name, a fingerprint of a local
  weights folder, family, mode, swap, scale, frames, pixels, tokens), the task and form, and the content
  hashes of the prompt, the shared media and the candidates in the order shown. Retraining a judge in the
  same folder, or changing its decoding, misses the cache; renaming a candidate file does not.
- A run that filters on the reasoning's probability (``min_reasoning_prob``) asks again for a cached answer
  that was read without one (a store written before judges reported it), rather than count it undecided.
- Batches are made per chunk of prompts at fixed positions in the prompts file, so a resumed job sends
  the judge the same batches as an uninterrupted one (batch composition can change a model's numerics).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from unireward.construct.items import Candidate, PromptItem
from unireward.construct.sift import Decision, SiftConfig, prompt_seed, sift
from unireward.media import content_hash
from unireward.tasks import Score, Task, Verdict


class Cache(Protocol):
    def get_judgments(self, keys: Sequence[str]) -> dict[str, Verdict | Score]: ...

    def put_judgments(self, entries: Sequence[tuple[str, dict[str, Any], Verdict | Score]]) -> int: ...


class NullCache:
    """No cache: every judgment goes to the judge (entries are still collected by `CachedJudge.new`)."""

    def get_judgments(self, keys: Sequence[str]) -> dict[str, Verdict | Score]:
        return {}

    def put_judgments(self, entries: Sequence[tuple[str, dict[str, Any], Verdict | Score]]) -> int:
        return 0


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _folder_fingerprint(path: str) -> str | None:
    """Names, sizes and modification times of a local model folder (hashing 15 GB of weights is too slow)."""
    p = Path(path)
    if not p.is_dir():
        return None
    files = sorted(f for f in p.rglob("*") if f.is_file())
    return _sha(json.dumps([(str(f.relative_to(p)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]))


def judge_identity(judge: Any) -> dict[str, Any]:
    """Everything about a judge that changes its answers (see the module docstring)."""
    name = getattr(judge, "name", type(judge).__name__)
    ident = {"name": name, "weights": _folder_fingerprint(getattr(judge, "model_path", name))}
    for attr in ("family", "mode", "swap", "point_scale", "num_frames", "max_pixels", "max_new_tokens", "video_as"):
        value = getattr(judge, attr, None)
        ident[attr] = list(value) if isinstance(value, tuple) else value
    return ident


def set_point_scale(judge: Any, task: Task | str, scale: tuple[float, float] | None) -> bool:
    """Ask the judge for scores on `scale` when its pointwise template has a variable scale (the v1
    templates do; the upstream sift asks 1-10 for generation); otherwise keep the template's own.
    Returns whether the scale was set."""
    if scale is None or not hasattr(judge, "template"):
        return False
    template = judge.template(task, "point")
    if "{hi}" not in template.text:
        return False
    judge.point_scale = (float(scale[0]), float(scale[1]))
    return True


@dataclass
class PromptContext:
    """A prompt with its candidates, ready to judge."""

    item: PromptItem
    candidates: list[Candidate]
    media_hash: str = ""

    @classmethod
    def make(cls, item: PromptItem, candidates: list[Candidate]) -> PromptContext:
        return cls(item, candidates, content_hash(item.media) if item.media else "")


class CachedJudge:
    """Strategy callables backed by a cache and a judge; counts judge calls and cache hits."""

    def __init__(self, judge: Any, cache: Cache, task: Task | str, need_reasoning_prob: bool = False):
        self.judge, self.cache, self.task = judge, cache, Task.parse(task)
        self.need_reasoning_prob = need_reasoning_prob
        ident = judge_identity(judge)
        self.judge_key = _sha(json.dumps(ident, sort_keys=True))
        self.meta_base = {"judge_key": self.judge_key, "judge": ident["name"], "family": ident["family"],
                          "task": self.task.value}
        self.calls = {"pair": 0, "point": 0}
        self.hits = 0
        self.memo: dict[str, Verdict | Score] = {}  # this chunk's answers, failures included

    # ------------------------------------------------------------------ keys and items
    def _key(self, ctx: PromptContext, form: str, a: int, b: int | None) -> tuple[str, dict[str, Any]]:
        meta = {**self.meta_base, "form": form, "prompt_hash": _sha(ctx.item.prompt), "media_hash": ctx.media_hash,
                "a_hash": ctx.candidates[a].hash, "b_hash": ctx.candidates[b].hash if b is not None else ""}
        return _sha(json.dumps(meta, sort_keys=True)), meta

    def _item(self, ctx: PromptContext, a: int, b: int | None) -> dict[str, Any]:
        item = {"task": self.task, "prompt": ctx.item.prompt, "media": ctx.item.media}
        if b is None:
            return {**item, "candidate": ctx.candidates[a].value}
        return {**item, "a": ctx.candidates[a].value, "b": ctx.candidates[b].value}

    # ------------------------------------------------------------------ answering
    def resolve(self, form: str, requests: Sequence[tuple[PromptContext, int, int | None]]) -> list[Any]:
        """Answers for (ctx, a, b) requests (b None for scores): memo, then cache, then one judge batch."""
        keyed = [(*self._key(ctx, form, a, b), ctx, a, b) for ctx, a, b in requests]
        unknown = list(dict.fromkeys(k for k, *_ in keyed if k not in self.memo))
        found = self.cache.get_judgments(unknown) if unknown else {}
        if self.need_reasoning_prob:
            found = {k: r for k, r in found.items() if not (r.ok and r.reasoning_prob is None)}
        self.hits += len(found)
        self.memo.update(found)
        todo = {k: (meta, ctx, a, b) for k, meta, ctx, a, b in keyed if k not in self.memo}
        if todo:
            items = [self._item(ctx, a, b) for _, ctx, a, b in todo.values()]
            results = self.judge.compare_batch(items) if form == "pair" else self.judge.score_batch(items)
            self.calls[form] += len(items)
            entries = [(k, meta, r) for (k, (meta, *_)), r in zip(todo.items(), results)]
            self.cache.put_judgments(entries)
            self.memo.update((k, r) for k, _, r in entries)
        return [self.memo[k] for k, *_ in keyed]

    def compare_fn(self, ctx: PromptContext) -> Callable[[Sequence[tuple[int, int]]], list[Any]]:
        return lambda pairs: self.resolve("pair", [(ctx, a, b) for a, b in pairs])

    def score_fn(self, ctx: PromptContext) -> Callable[[Sequence[int]], list[Any]]:
        return lambda indices: self.resolve("point", [(ctx, i, None) for i in indices])


class _Need(Exception):
    """Raised inside a strategy when it asks for a judgment not answered yet (collected, then batched)."""


def _asking(cj: CachedJudge, form: str, ctx: PromptContext, needs: list) -> Callable[[Sequence], list[Any]]:
    def ask(requests: Sequence) -> list[Any]:
        reqs = [(ctx, a, b) for a, b in requests] if form == "pair" else [(ctx, i, None) for i in requests]
        keys = [cj._key(c, form, a, b)[0] for c, a, b in reqs]
        missing = [r for r, k in zip(reqs, keys) if k not in cj.memo]
        if missing:
            needs.extend(missing)
            raise _Need
        return [cj.memo[k] for k in keys]

    return ask


def decide_chunk(cj: CachedJudge, ctxs: Sequence[PromptContext], config: SiftConfig, seed: int) -> list[Decision]:
    """The strategy's decision for each prompt of a chunk, with every judge call batched across the chunk.

    The strategies are pure, so they are run in rounds: each round runs every unfinished prompt's strategy
    until it asks for a judgment not answered yet; the round's requests go to the cache and the judge in
    one batch per form; the next round starts again from scratch with more answers known. pair-point takes
    three rounds (fixed pairs, swapped re-judging of ties, scores), the same for every prompt of the chunk.
    """
    cj.memo.clear()
    decisions: list[Decision | None] = [None] * len(ctxs)
    pending = list(range(len(ctxs)))
    while pending:
        needs: dict[str, list] = {"pair": [], "point": []}
        unfinished = []
        for k in pending:
            ctx = ctxs[k]
            try:
                decisions[k] = sift(len(ctx.candidates), _asking(cj, "pair", ctx, needs["pair"]),
                                    _asking(cj, "point", ctx, needs["point"]), config, prompt_seed(seed, ctx.item.id))
            except _Need:
                unfinished.append(k)
        for form, reqs in needs.items():
            if reqs:
                cj.resolve(form, reqs)
        pending = unfinished
    return decisions  # type: ignore[return-value]
