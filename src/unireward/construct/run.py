"""A construction job: prompts -> N candidates -> judge -> one preference pair per prompt, resumable.

Output folder:
- ``pairs.jsonl`` (kept pairs, see `outputs`), ``dropped.jsonl`` (dropped prompts and why),
  ``failures.jsonl`` (prompts that could not be processed: generator or media errors), ``summary.json``;
- ``media/`` (generated images and videos, copies of the shared media of understanding prompts);
- ``construct.sqlite`` (the store: candidates, judgments, decisions) and ``run.json`` (the configuration).

Design choices a user will notice:
- Each prompt is committed on its own (its candidates, its judgments, its decision), and its row is
  appended to the JSONL at once. The store is the record of what is done: on start, the JSONL files are
  rewritten from it, and at the end they are rewritten in prompts-file order, so a job killed any number
  of times and resumed ends with exactly the rows of an uninterrupted run, none lost, none duplicated.
- ``resume=True`` skips prompts whose row or drop decision is recorded, and refuses to continue a run
  whose configuration (task, generator, judge, strategy, N, seed) changed. Without it the decisions are
  made again, but candidates and judgments still come from the store: a rerun makes no judge calls.
- A prompt that fails (generator error, missing media) is reported in ``failures.jsonl`` and the summary
  and retried by the next run; the job goes on.
- ``engine="ray"`` runs generation and judging as Ray Data stages with the generator and the judge as
  stateful actors (see `ray_engine`); the driver still commits every prompt to the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from unireward.construct.generators import Generator, generator_identity, load_generator
from unireward.construct.items import Candidate, PromptItem, read_prompts, safe_name
from unireward.construct.job import Job, commit, fail, open_writers
from unireward.construct.judging import CachedJudge, PromptContext, decide_chunk, judge_identity
from unireward.construct.outputs import DROPPED_FILE, PAIRS_FILE
from unireward.construct.sift import SiftConfig, prompt_seed
from unireward.construct.store import Store
from unireward.tasks import Task


STORE_FILE, RUN_FILE, FAILURES_FILE, SUMMARY_FILE = "construct.sqlite", "run.json", "failures.jsonl", "summary.json"
ENGINES = ("local", "ray")


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def construct(task: Task | str, prompts: str | Path, generator: Generator | str, judge: Any, output: str | Path,
              n: int = 10, strategy: str = "pair-point", resume: bool = False, seed: int = 0,
              on_tie: str = "swap", on_unparseable: str = "swap", prompts_per_batch: int = 4,
              limit: int | None = None, progress: bool = True, engine: str = "local",
              generator_options: dict[str, Any] | None = None, ray_options: dict[str, Any] | None = None,
              store_path: str | Path | None = None, min_margin: float = 0.0,
              min_gap: float = 0.0, min_reasoning_prob: float = 0.0, min_chosen_score: float = 0.0
              ) -> dict[str, Any]:
    """Build preference pairs for every prompt of `prompts`; returns the summary (also in summary.json).

    generator: a `Generator` or a SPEC (``diffusers:ID``, ``vlm:PATH``, ``t2v:PATH``, ``jsonl:FILE``).
    judge: a loaded judge (local engine), or with ``engine="ray"`` a judge SPEC for ``load_judge`` (the
        actors load it with the `JudgeConfig` in ``ray_options["judge_config"]``).
    min_margin, min_gap, min_reasoning_prob, min_chosen_score: the filters of `SiftConfig` (off by default).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid engines: {', '.join(ENGINES)}")
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    task, out = Task.parse(task), Path(output)
    config = SiftConfig(strategy, on_tie, on_unparseable, min_margin, min_gap, min_reasoning_prob, min_chosen_score)
    items, invalid = read_prompts(prompts, task)
    items = items[:limit] if limit is not None else items
    out.mkdir(parents=True, exist_ok=True)
    gen = generator if isinstance(generator, Generator) else None
    if gen is None and engine == "local":
        gen = load_generator(generator, task, **(generator_options or {}))
    gen_ident = gen.identity() if gen else generator_identity(str(generator), task, **(generator_options or {}))
    judge_ident = _judge_ident(judge, engine, ray_options)
    run_config = {"task": task.value, "generator": gen_ident, "judge": judge_ident, "strategy": strategy,
                  "on_tie": on_tie, "on_unparseable": on_unparseable, "n": n, "seed": seed,
                  **config.filters()}
    store = Store(store_path or out / STORE_FILE)
    try:
        # outcome rows hold media paths relative to `out`: a store shared by several output folders keeps one
        # outcome set per folder (candidates and judgments are shared, so another folder costs no judge call)
        run_key = _sha([run_config, str(out.resolve())])
        job = Job(task, out, store, gen, _sha([gen_ident, n, seed]), run_key, n, seed, config, judge_ident)
        if engine == "local":
            job.judge_info = {"name": judge_ident["name"], "family": judge_ident["family"]}
        _start(job, run_config, resume)
        done = store.outcomes(job.run_key)
        todo = [it for it in items if it.id not in done]
        t0 = time.time()
        if engine == "local":
            _run_local(job, judge, todo, items, prompts_per_batch, progress)
        else:
            from unireward.construct.ray_engine import run_ray

            run_ray(job, judge, todo, prompts_per_batch, progress, generator, generator_options,
                    ray_options or {})
        return _finish(job, items, invalid, len(done), len(todo), time.time() - t0)
    finally:
        store.close()


def _judge_ident(judge: Any, engine: str, ray_options: dict[str, Any] | None) -> dict[str, Any]:
    if engine == "ray" and isinstance(judge, str):
        from unireward.judges.config import JudgeConfig

        config = (ray_options or {}).get("judge_config") or JudgeConfig()
        return {"spec": judge, "weights": _folder_ident(judge), **{k: _plain(v) for k, v in config.to_dict().items()
                                                                  if v is not None}}
    return judge_identity(judge)


def _folder_ident(spec: str) -> str | None:
    from unireward.construct.judging import _folder_fingerprint

    return _folder_fingerprint(spec)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


# ---------------------------------------------------------------------- start and finish
def _start(job: Job, run_config: dict[str, Any], resume: bool) -> None:
    """Check --resume against the recorded configuration, then rewrite the JSONL files from the store."""
    run_file = job.out / RUN_FILE
    previous = json.loads(run_file.read_text()) if run_file.is_file() else None
    if resume and previous is not None and previous != run_config:
        changed = sorted(k for k in set(previous) | set(run_config) if previous.get(k) != run_config.get(k))
        raise ValueError(f"cannot resume {job.out}: the configuration changed ({', '.join(changed)}); "
                         "run without --resume to start over, or use another output folder")
    if not resume:
        job.store.clear_outcomes(job.run_key)
    job.store.put_run(job.run_key, run_config)
    _atomic_text(run_file, json.dumps(run_config, indent=2, sort_keys=True, default=str) + "\n")
    _rewrite(job, list(job.store.outcomes(job.run_key).items()))


def _rewrite(job: Job, outcomes: Sequence[tuple[str, tuple[str, dict]]]) -> None:
    for name, status in ((PAIRS_FILE, "kept"), (DROPPED_FILE, "dropped")):
        lines = [json.dumps(row, ensure_ascii=False) + "\n" for _, (s, row) in outcomes if s == status]
        _atomic_text(job.out / name, "".join(lines))


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _finish(job: Job, items: list[PromptItem], invalid: list[str], already: int, todo: int,
            seconds: float) -> dict[str, Any]:
    outcomes = job.store.outcomes(job.run_key)
    order = {it.id: it.position for it in items}
    ranked = sorted(outcomes.items(), key=lambda kv: order.get(kv[0], len(order)))
    _rewrite(job, ranked)  # prompts-file order: identical however often the job was interrupted
    failures = job.store.failures(job.run_key)
    _atomic_text(job.out / FAILURES_FILE, "".join(
        json.dumps({"id": pid, "stage": stage, "error": err}, ensure_ascii=False) + "\n"
        for pid, (stage, err) in failures.items()))
    status = Counter(s for s, _ in outcomes.values())
    reasons = Counter(_reason_kind(row["reason"]) for s, row in outcomes.values() if s == "dropped")
    processed = job.counts["processed"]
    summary = {
        "output": str(job.out), "prompts": len(items), "kept": status["kept"], "dropped": status["dropped"],
        "failed": len(failures), "invalid_prompt_lines": len(invalid), "already_done": already,
        "processed_now": processed, "drop_reasons": dict(reasons),
        "judge_calls": {"pair": job.counts["pair_calls"], "point": job.counts["point_calls"]},
        "cache_hits": job.counts["cache_hits"], "generated_prompts": job.counts["generated"],
        "cached_candidates_prompts": job.counts["cached_candidates"], "seconds": round(seconds, 3),
        "seconds_per_prompt": round(seconds / processed, 4) if processed else None,
        "failures": [f"{pid}: [{stage}] {err}" for pid, (stage, err) in list(failures.items())[:20]],
        "invalid_prompts": invalid[:20], "pending": todo - processed - len(job.failures),
    }
    _atomic_text(job.out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary


def _reason_kind(reason: str) -> str:
    """A drop reason without its numbers, for counting ("chosen score N is not above rejected score N")."""
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", reason)


# ---------------------------------------------------------------------- shared per-prompt steps
def candidates_for(job: Job, item: PromptItem) -> list[Candidate]:
    """The prompt's candidates: from the store, or generated now and committed at once."""
    cached = job.store.candidates(job.gen_key, item.id)
    if cached is not None and all(c.path is None or Path(c.path).is_file() for c in cached):
        job.counts["cached_candidates"] += 1
        return cached
    media_dir = job.out / "media" / safe_name(item.id)
    cands = job.generator.generate(item, job.n, prompt_seed(job.seed, item.id) % 1_000_000, media_dir)
    if len(cands) < 2:
        raise ValueError(f"prompt {item.id!r}: the generator gave {len(cands)} candidate(s); need at least 2")
    job.store.put_candidates(job.gen_key, item.id, cands)
    job.counts["generated"] += 1
    return cands


def _chunks(items: list[PromptItem], size: int) -> Iterator[list[PromptItem]]:
    """Fixed slices of the prompts file (by position), so batches do not move when a job resumes."""
    size = max(1, size)
    by_chunk: dict[int, list[PromptItem]] = {}
    for it in items:
        by_chunk.setdefault(it.position // size, []).append(it)
    yield from by_chunk.values()


# ---------------------------------------------------------------------- the local engine
def _run_local(job: Job, judge: Any, todo: list[PromptItem], items: list[PromptItem], per_batch: int,
               progress: bool) -> None:
    from tqdm import tqdm

    cj = CachedJudge(judge, job.store, job.task, need_reasoning_prob=job.config.min_reasoning_prob > 0)
    writers = open_writers(job)
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=f"construct {job.task.value}", unit="prompt",
               disable=not progress)
    try:
        for chunk in _chunks(todo, per_batch):
            _local_chunk(job, cj, chunk, writers)
            bar.update(len(chunk))
            bar.set_postfix(kept=job.counts["kept"], dropped=job.counts["dropped"], failed=len(job.failures))
    finally:
        bar.close()
        for w in writers.values():
            w.close()
        job.counts.update(pair_calls=cj.calls["pair"], point_calls=cj.calls["point"], cache_hits=cj.hits)


def _local_chunk(job: Job, cj: CachedJudge, chunk: list[PromptItem], writers: dict[str, Any]) -> None:
    ctxs = []
    for item in chunk:
        try:
            ctxs.append(PromptContext.make(item, candidates_for(job, item)))
        except Exception as e:  # one prompt's failure is reported; the job goes on
            fail(job, item, "generate", e)
    try:
        decisions = decide_chunk(cj, ctxs, job.config, job.seed)
    except Exception as e:
        for ctx in ctxs:
            fail(job, ctx.item, "judge", e)
        return
    for ctx, d in zip(ctxs, decisions):
        commit(job, ctx, d, writers)
        job.counts["kept" if d.kept else "dropped"] += 1
