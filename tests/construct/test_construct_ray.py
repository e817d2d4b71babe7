"""The Ray engine on a local Ray instance (CPU): generator and judge as actors, same rows as the local engine."""

from __future__ import annotations

import json

import pytest

from tests.construct.conftest import close
from unireward.construct.run import construct
from unireward.judges.config import JudgeConfig


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def rows(folder) -> list[dict]:
    return [json.loads(x) for f in ("pairs.jsonl", "dropped.jsonl") for x in (folder / f).read_text().splitlines()]


def test_ray_engine_matches_local_and_resumes(tmp_path, local_ray, judge, judge_dir, vlm_dir, understanding_prompts):
    spec = f"vlm:{vlm_dir}?max_new_tokens=4"
    options = {"judge_config": JudgeConfig(mode="logprob", device="cpu", dtype="float32"), "judge_gpus": 0,
               "generator_gpus": 0}
    args = dict(n=4, prompts_per_batch=2, progress=False)
    got = construct("image_understanding", understanding_prompts, spec, judge_dir, tmp_path / "ray", engine="ray",
                    ray_options=options, **args)
    assert got["kept"] + got["dropped"] == 6 and got["failed"] == 0 and got["generated_prompts"] == 6
    assert got["judge_calls"]["pair"] == 12 and got["cache_hits"] == 0
    want = construct("image_understanding", understanding_prompts, spec, judge, tmp_path / "local", **args)
    assert (got["kept"], got["dropped"]) == (want["kept"], want["dropped"])
    ray_rows, local_rows = rows(tmp_path / "ray"), rows(tmp_path / "local")
    assert close(ray_rows, local_rows)  # the actors run in other processes: floats equal to 1e-6

    resumed = construct("image_understanding", understanding_prompts, spec, judge_dir, tmp_path / "ray",
                        engine="ray", ray_options=options, resume=True, **args)
    assert resumed["already_done"] == 6 and resumed["processed_now"] == 0
    assert close(rows(tmp_path / "ray"), ray_rows)
