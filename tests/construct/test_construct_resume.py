"""Kill and resume: a job interrupted at random points, several times, ends with exactly the rows of an
uninterrupted run, with no judgment or generation done twice; a rerun makes no judge calls."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.construct.conftest import close, image, write_jsonl
from unireward.construct.generators import VLMSampler
from unireward.construct.run import construct
from unireward.construct.store import Store


class Killed(BaseException):
    """Stands for a kill: not an Exception, so no per-prompt error handling catches it."""


class CountingJudge:
    """A judge proxy that counts the items it judged and can be made to die on its k-th batch."""

    def __init__(self, judge):
        self.inner, self.items, self.batches, self.die_at = judge, 0, 0, None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _call(self, fn, items):
        self.batches += 1
        if self.batches == self.die_at:
            raise Killed(f"judge batch {self.batches}")
        out = fn(items)
        self.items += len(items)
        return out

    def compare_batch(self, items):
        return self._call(self.inner.compare_batch, list(items))

    def score_batch(self, items):
        return self._call(self.inner.score_batch, list(items))


def sampler(vlm_dir: str) -> VLMSampler:
    gen = VLMSampler(vlm_dir, max_new_tokens=4)
    gen.calls, gen.die_at, real = 0, None, gen.generate

    def generate(*args, **kwargs):
        gen.calls += 1
        if gen.calls == gen.die_at:
            raise Killed("generator")
        return real(*args, **kwargs)

    gen.generate = generate
    return gen


@pytest.fixture
def prompts(tmp_path) -> Path:
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(10):
        image(200 + i).save(tmp_path / "img" / f"{i}.png")
        rows.append({"id": f"q{i}", "question": f"What is in picture {i}?", "image": f"img/{i}.png"})
    return write_jsonl(tmp_path / "questions.jsonl", rows)


def outputs(folder: Path) -> tuple[str, str]:
    return (folder / "pairs.jsonl").read_text(), (folder / "dropped.jsonl").read_text()


ARGS = dict(n=4, prompts_per_batch=3, progress=False)


def test_killed_at_random_points_resumes_to_the_same_rows(tmp_path, prompts, judge, vlm_dir, monkeypatch):
    ref_judge = CountingJudge(judge)
    ref = construct("image_understanding", prompts, sampler(vlm_dir), ref_judge, tmp_path / "ref", **ARGS)
    assert ref["kept"] + ref["dropped"] == 10 and ref["kept"] > 0
    expected = outputs(tmp_path / "ref")

    rng = random.Random(0)
    cj, gen = CountingJudge(judge), sampler(vlm_dir)
    real_put = Store.put_outcome
    commits = {"n": 0, "die_at": None}

    def put_outcome(self, *args):  # dies right after a prompt's commit, before its JSONL line
        real_put(self, *args)
        commits["n"] += 1
        if commits["n"] == commits["die_at"]:
            raise Killed("after commit")

    monkeypatch.setattr(Store, "put_outcome", put_outcome)
    kills, first = 0, True
    while True:
        cj.batches, gen.calls, commits["n"] = 0, 0, 0
        cj.die_at = gen.die_at = commits["die_at"] = None
        if kills < 5:
            where = rng.choice(["judge", "generator", "commit"])
            if where == "judge":
                cj.die_at = rng.randint(1, 4)
            elif where == "generator":
                gen.die_at = rng.randint(1, 4)
            else:
                commits["die_at"] = rng.randint(1, 4)
        try:
            s = construct("image_understanding", prompts, gen, cj, tmp_path / "chaos", resume=not first, **ARGS)
            break  # finished (the planned kill point was past the work left)
        except Killed:
            kills += 1
        first = False
    assert kills >= 3 and s["already_done"] > 0
    assert outputs(tmp_path / "chaos") == expected
    # nothing was judged twice: the interrupted runs together judged exactly what one run judges
    assert cj.items == ref_judge.items
    assert json.loads((tmp_path / "chaos" / "summary.json").read_text())["kept"] == ref["kept"]

    again = construct("image_understanding", prompts, gen, cj, tmp_path / "chaos", **ARGS)
    assert again["judge_calls"] == {"pair": 0, "point": 0} and again["cache_hits"] > 0
    assert outputs(tmp_path / "chaos") == expected


SCRIPT = """
import sys
import torch
torch.set_num_threads(1)
import unireward as ur
from unireward.construct.run import construct
judge = ur.load_judge(sys.argv[1], mode="logprob", device="cpu", dtype="float32")
construct("image_understanding", sys.argv[2], "vlm:" + sys.argv[3] + "?max_new_tokens=4", judge, sys.argv[4],
          n=4, prompts_per_batch=3, progress=False, resume=sys.argv[5] == "1")
"""


@pytest.mark.slow
def test_subprocess_killed_with_sigkill_resumes_to_the_same_rows(tmp_path, prompts, judge_dir, vlm_dir):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def start(out: Path, resume: bool) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(script), judge_dir, str(prompts), vlm_dir, str(out),
                                 "1" if resume else "0"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    assert start(tmp_path / "ref", False).wait(timeout=300) == 0
    rng, kills, resume = random.Random(1), 0, False
    while True:
        proc = start(tmp_path / "chaos", resume)
        resume = True
        if kills < 4:
            time.sleep(rng.uniform(3.0, 9.0))  # imports take a few seconds; kills land anywhere after
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        assert proc.wait(timeout=300) == 0
        break
    assert kills >= 2
    # Across processes the CPU kernels round the last bits of a float differently (two uninterrupted runs
    # differ by ~1e-9 too), so scores are compared to 1e-6; everything else must be identical.
    for got, want in zip(outputs(tmp_path / "chaos"), outputs(tmp_path / "ref")):
        assert close([json.loads(x) for x in got.splitlines()], [json.loads(x) for x in want.splitlines()])

