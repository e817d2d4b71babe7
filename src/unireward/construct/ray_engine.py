"""The Ray engine: generation and judging as Ray Data stages, for many GPUs.

The prompts still to do become a Ray dataset. A generation stage (`map_batches` with a callable class:
the generator is loaded once per actor) makes the candidates of prompts that have none in the store; a
judging stage (the judge loaded once per actor) runs the same strategy code as the local engine on
batches of prompts. The driver receives finished prompts as they stream out and commits each one to the
store and the JSONL files, exactly as the local engine does, so ``--resume`` works the same way.

Design choices a user will notice:
- Actors read the store (SQLite in WAL mode) for cached judgments and never write it; their new
  judgments travel back with the rows and the driver stores them. The output folder (media) and the store
  must be on a filesystem every worker can reach (one machine, or a shared mount).
- ``ray_options``: ``generator_actors`` / ``judge_actors`` (actor pool sizes, default 1),
  ``generator_gpus`` / ``judge_gpus`` (GPUs per actor, default 1 when CUDA is visible, else 0),
  ``judge_config`` (a `JudgeConfig` for ``load_judge``), ``point_scale``, ``address`` (an existing
  cluster; default: the running one, or a new local instance).
- Rows stream out in completion order; the final files are rewritten in prompts-file order anyway.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unireward.construct.items import Candidate, PromptItem, safe_name
from unireward.construct.job import Job, commit, fail, open_writers
from unireward.construct.judging import CachedJudge, PromptContext, decide_chunk, judge_identity, set_point_scale
from unireward.construct.sift import Decision, SiftConfig, prompt_seed
from unireward.judges.config import JudgeConfig
from unireward.tasks import Score, Verdict


def _rows(batch: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(batch)
    return [dict(zip(keys, values)) for values in zip(*(batch[k] for k in keys))]


def _columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in rows[0]} if rows else {}


class _GenerateStage:
    """Makes candidates for rows that have none (the generator is loaded on first need)."""

    def __init__(self, spec: str, task: str, options: dict[str, Any], n: int, seed: int, media_root: str):
        self.spec, self.task, self.options = spec, task, options
        self.n, self.seed, self.media_root = n, seed, Path(media_root)
        self.generator = None

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from unireward.construct.generators import load_generator

        rows = _rows(batch)
        for row in rows:
            if row["candidates"] or row["error"]:
                continue
            item = PromptItem(**json.loads(row["item"]))
            try:
                if self.generator is None:
                    self.generator = load_generator(self.spec, self.task, **self.options)
                cands = self.generator.generate(item, self.n, prompt_seed(self.seed, item.id) % 1_000_000,
                                                self.media_root / safe_name(item.id))
                if len(cands) < 2:
                    raise ValueError(f"the generator gave {len(cands)} candidate(s); need at least 2")
                row["candidates"] = json.dumps([c.to_dict() for c in cands])
                row["generated"] = True
            except Exception as e:  # reported by the driver; other prompts go on
                row["error"] = json.dumps(["generate", f"prompt {item.id!r}: {type(e).__name__}: {e}"])
        return _columns(rows)


class _CollectingCache:
    """Reads the driver's store; keeps new judgments to send back instead of writing them."""

    def __init__(self, store_path: str):
        from unireward.construct.store import Store

        self.store = Store(store_path) if Path(store_path).is_file() else None
        self.new: list[tuple[str, dict[str, Any], Verdict | Score]] = []

    def get_judgments(self, keys):
        return self.store.get_judgments(keys) if self.store else {}

    def put_judgments(self, entries) -> int:
        self.new.extend(entries)
        return len(entries)


class _JudgeStage:
    """Decides a batch of prompts with the strategy; returns decisions, new judgments and counters."""

    def __init__(self, judge_spec: str, judge_config: JudgeConfig | None, point_scale: Any, task: str,
                 config: dict[str, str], seed: int, store_path: str):
        import unireward as ur

        self.judge = ur.load_judge(judge_spec, judge_config)
        set_point_scale(self.judge, task, point_scale)
        self.cache = _CollectingCache(store_path)
        self.config, self.seed = SiftConfig(**config), seed
        self.cj = CachedJudge(self.judge, self.cache, task, need_reasoning_prob=self.config.min_reasoning_prob > 0)
        ident = judge_identity(self.judge)
        self.info = json.dumps({"name": ident["name"], "family": ident["family"]})

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from unireward.construct.store import result_to_json

        rows = _rows(batch)
        live = [r for r in rows if not r["error"]]
        ctxs = []
        for r in live:
            cands = [Candidate.from_dict(c) for c in json.loads(r["candidates"])]
            ctxs.append(PromptContext.make(PromptItem(**json.loads(r["item"])), cands))
        before = dict(self.cj.calls), self.cj.hits
        self.cache.new.clear()
        try:
            decisions = decide_chunk(self.cj, ctxs, self.config, self.seed)
        except Exception as e:  # the whole batch failed in the judge: reported per prompt
            for r in live:
                r["error"] = json.dumps(["judge", f"{type(e).__name__}: {e}"])
            decisions = []
        for r, d in zip(live, decisions):
            r["decision"] = json.dumps(d.to_dict())
        for r in rows:
            r.setdefault("decision", "")
            r["judge_info"], r["judgments"], r["stats"] = self.info, "[]", "{}"
        if rows:
            rows[0]["judgments"] = json.dumps([(k, m, result_to_json(x)) for k, m, x in self.cache.new])
            rows[0]["stats"] = json.dumps({"pair_calls": self.cj.calls["pair"] - before[0]["pair"],
                                           "point_calls": self.cj.calls["point"] - before[0]["point"],
                                           "cache_hits": self.cj.hits - before[1]})
        return _columns(rows)


def _gpus(options: dict[str, Any], key: str) -> float:
    if key in options:
        return float(options[key])
    import torch

    return 1.0 if torch.cuda.is_available() else 0.0


def run_ray(job: Job, judge: Any, todo: list[PromptItem], per_batch: int, progress: bool, generator: Any,
            generator_options: dict[str, Any] | None, options: dict[str, Any]) -> None:
    """Process `todo` through Ray Data; the driver commits each finished prompt (see `job.commit`)."""
    import ray
    from tqdm import tqdm

    if not isinstance(judge, str) or not isinstance(generator, str):
        raise ValueError("the ray engine needs the judge and the generator as SPEC strings (actors load them)")
    if not todo:
        return  # nothing to do: no cluster, no actors
    if not ray.is_initialized():
        ray.init(address=options.get("address"), include_dashboard=False, ignore_reinit_error=True)
    rows = [_start_row(job, it) for it in todo]
    writers = open_writers(job)
    bar = tqdm(total=len(todo), desc=f"construct {job.task.value} (ray)", unit="prompt", disable=not progress)
    try:
        for row in _pipeline(job, rows, judge, generator, generator_options or {}, per_batch, options).iter_rows():
            _receive(job, row, writers)
            bar.update(1)
    finally:
        bar.close()
        for w in writers.values():
            w.close()


def _start_row(job: Job, item: PromptItem) -> dict[str, Any]:
    cached = job.store.candidates(job.gen_key, item.id)
    ok = cached is not None and all(c.path is None or Path(c.path).is_file() for c in cached)
    if ok:
        job.counts["cached_candidates"] += 1
    return {"item": json.dumps(item.to_dict()), "candidates": json.dumps([c.to_dict() for c in cached]) if ok else "",
            "generated": False, "error": ""}


def _pipeline(job: Job, rows: list[dict[str, Any]], judge: str, generator: str, gen_options: dict[str, Any],
              per_batch: int, options: dict[str, Any]):
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ds = ray.data.from_items(rows)
    ds = ds.map_batches(_GenerateStage, batch_size=1,
                        compute=ray.data.ActorPoolStrategy(size=options.get("generator_actors", 1)),
                        num_gpus=_gpus(options, "generator_gpus"),
                        fn_constructor_kwargs=dict(spec=generator, task=job.task.value, options=gen_options,
                                                   n=job.n, seed=job.seed,
                                                   media_root=str((job.out / "media").resolve())))
    config = {"strategy": job.config.strategy, "on_tie": job.config.on_tie,
              "on_unparseable": job.config.on_unparseable, **job.config.filters()}
    return ds.map_batches(_JudgeStage, batch_size=max(1, per_batch),
                          compute=ray.data.ActorPoolStrategy(size=options.get("judge_actors", 1)),
                          num_gpus=_gpus(options, "judge_gpus"),
                          fn_constructor_kwargs=dict(judge_spec=judge, judge_config=options.get("judge_config"),
                                                     point_scale=options.get("point_scale"),
                                                     task=job.task.value, config=config, seed=job.seed,
                                                     store_path=str(job.store.path.resolve())))


def _receive(job: Job, row: dict[str, Any], writers: dict[str, Any]) -> None:
    from unireward.construct.store import result_from_json

    item = PromptItem(**json.loads(row["item"]))
    judgments = json.loads(row["judgments"])
    if judgments:
        job.store.put_judgments([(k, m, result_from_json(x)) for k, m, x in judgments])
    job.counts.update(json.loads(row["stats"]))
    if row["candidates"] and row["generated"]:
        cands = [Candidate.from_dict(c) for c in json.loads(row["candidates"])]
        job.store.put_candidates(job.gen_key, item.id, cands)
        job.counts["generated"] += 1
    if row["error"]:
        stage, msg = json.loads(row["error"])
        fail(job, item, stage, msg)
        return
    job.judge_info = json.loads(row["judge_info"])
    cands = [Candidate.from_dict(c) for c in json.loads(row["candidates"])]
    d = Decision.from_dict(json.loads(row["decision"]))
    commit(job, PromptContext.make(item, cands), d, writers)
    job.counts["kept" if d.kept else "dropped"] += 1

