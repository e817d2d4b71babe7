"""`unireward construct`: build DPO preference pairs from a generator's samples with a judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from unireward.judges.options import BatchSize, Dtype, Family, MaxNewTokens, Mode, NumFrames, judge_config, load


def _scale(value: str, task) -> tuple[float, float] | None:
    """--point-scale: "auto" (1-10 for generation tasks, as the upstream sift asks), "native", or "LO,HI"."""
    if value == "native":
        return None
    if value == "auto":
        return (1, 10) if task.is_generation else None
    try:
        lo, hi = (float(x) for x in value.split(","))
    except ValueError:
        raise ValueError(f"--point-scale must be auto, native or LO,HI (e.g. 1,10), got {value!r}") from None
    return (lo, hi)


def construct(
    task: Annotated[str, typer.Option(help="image_generation, image_understanding, video_generation, "
                                           "video_understanding")],
    prompts: Annotated[Path, typer.Option(help="Prompts: JSONL (prompt/caption/question, id, image/video) "
                                               "or a text file, one prompt per line.")],
    generator: Annotated[str, typer.Option(help="diffusers:ID, vlm:PATH, t2v:PATH or jsonl:FILE, with options "
                                                "as ?key=value&... (e.g. diffusers:stabilityai/sdxl-turbo?steps=1).")],
    judge: Annotated[str, typer.Option(help="Judge: preset name, hub id, local folder or openai://HOST:PORT/MODEL.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder (pairs.jsonl, media, store).")],
    n: Annotated[int, typer.Option("--n", help="Candidates per prompt.")] = 10,
    strategy: Annotated[str, typer.Option(help="pair-point (the paper's), point-only, pair-only or random.")]
    = "pair-point",
    resume: Annotated[bool, typer.Option(help="Continue a killed job: skip prompts already decided.")] = False,
    seed: Annotated[int, typer.Option(help="Run seed (per-prompt seeds derive from it).")] = 0,
    on_tie: Annotated[str, typer.Option(help="A tied pair: swap (judge again in swapped order) or drop.")] = "swap",
    on_unparseable: Annotated[str, typer.Option(help="An unparseable verdict: swap or drop.")] = "swap",
    min_margin: Annotated[float, typer.Option(help="Count a verdict only when |2 P(A) - 1| >= this (needs --mode "
                                                   "logprob or reason-logprob); below it is a tie.")] = 0.0,
    min_gap: Annotated[float, typer.Option(help="Keep a pair only when the chosen score is more than this above "
                                                "the rejected one (native scale).")] = 0.0,
    min_reasoning_prob: Annotated[float, typer.Option(
        help="Count a verdict or score only when every token of the judge's reasoning had at least this "
             "probability (needs --mode reason-logprob); an unsure verdict is a tie, an unsure score unread.")] = 0.0,
    min_chosen_score: Annotated[float, typer.Option(
        help="Keep a pair only when the chosen candidate's score reaches this share of its scale (0-1; 0.5 = "
             "the middle): drops pairs of two bad samples.")] = 0.0,
    mode: Mode = "generate",
    family: Family = None,
    point_scale: Annotated[str, typer.Option(help="Pointwise scale: auto (1-10 for generation, as upstream), "
                                                  "native, or LO,HI.")] = "auto",
    batch_size: BatchSize = None,
    prompts_per_batch: Annotated[int, typer.Option(help="Prompts whose judgments are batched together.")] = 4,
    max_new_tokens: MaxNewTokens = None,
    num_frames: NumFrames = None,
    device: Annotated[Optional[str], typer.Option(help="Device for the judge and the generator.")] = None,
    dtype: Dtype = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N prompts.")] = None,
    engine: Annotated[str, typer.Option(help="local, or ray (Ray Data with actor pools).")] = "local",
    ray_judge_actors: int = 1,
    ray_generator_actors: int = 1,
    ray_address: Annotated[Optional[str], typer.Option(help="An existing Ray cluster.")] = None,
) -> None:
    """Sample N candidates per prompt, rank them in pairs, sift by score, and write DPO preference pairs."""
    import unireward as ur
    from unireward.construct.run import construct as run_construct

    t = ur.Task.parse(task)
    from unireward.construct.judging import set_point_scale

    scale = _scale(point_scale, t)
    config = judge_config(mode=mode, family=family, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          num_frames=num_frames, device=device, dtype=dtype)
    gen_options = {"device": device}
    common = dict(n=n, strategy=strategy, resume=resume, seed=seed, on_tie=on_tie, on_unparseable=on_unparseable,
                  min_margin=min_margin, min_gap=min_gap, min_reasoning_prob=min_reasoning_prob,
                  min_chosen_score=min_chosen_score,
                  prompts_per_batch=prompts_per_batch, limit=limit,
                  generator_options=gen_options)
    if engine == "ray":
        ray_options = {"judge_config": config, "point_scale": scale, "judge_actors": ray_judge_actors,
                       "generator_actors": ray_generator_actors, "address": ray_address}
        summary = run_construct(t, prompts, generator, judge, output, engine="ray", ray_options=ray_options,
                                **common)
    else:
        the_judge = load(judge, config)
        set_point_scale(the_judge, t, scale)
        summary = run_construct(t, prompts, generator, the_judge, output, **common)
    typer.echo(json.dumps(summary, indent=2))
    if summary["failed"]:
        typer.echo(f"{summary['failed']} prompt(s) failed: see {output / 'failures.jsonl'}", err=True)
