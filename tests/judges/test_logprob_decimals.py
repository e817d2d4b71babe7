"""Logprob mode reads decimal scores: a judge taught to answer "Final Score: 3.7" scores 3.7 in logprob mode,
in-process (hf) and through the OpenAI-compatible server (openai), and integer scales read as before."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.judges.conftest import item
from unireward import load_judge
from unireward.judges.base import numeral_options
from unireward.judges.hf import HFJudge
from unireward.tasks import Form, Task


DECIMAL_A = item("image_generation", "point", seed=100, prompt="a red fox in the snow")
DECIMAL_B = item("image_generation", "point", seed=200, prompt="a blue car on a bridge")
PERCENT = item("image_understanding", "point", seed=300)
LESSONS = [(DECIMAL_A, "point", "Final Score: 3.7"), (DECIMAL_B, "point", "Final Score: 2.4"),
           (PERCENT, "point", "Final Score: 73")]


@pytest.fixture(scope="module")
def taught(tmp_path_factory) -> str:
    """A tiny Qwen2.5-VL taught to answer LESSONS (two decimal scores on 1-5, one integer on 0-100)."""
    from unireward.tiny_models import build_qwen2_5_vl, judge_corpus, qwen_tokenizer, teach

    root = tmp_path_factory.mktemp("decimals")
    base = build_qwen2_5_vl(root / "base", tokenizer=qwen_tokenizer(corpus=judge_corpus(), vocab_size=600))
    return str(teach(base, root / "judge", LESSONS, steps=100, lr=1e-2))


@pytest.fixture(scope="module")
def hf(taught) -> HFJudge:
    return HFJudge(taught, mode="logprob")


def _requests(j, *items):
    return [j._request({**x, "task": Task.parse(x["task"])}, Form.POINT, False) for x in items]


def _template(j, decimals: int):
    """The image-generation pointwise template (1-5) read with `decimals` digits after the point."""
    return replace(j.template("image_generation", "point"), decimals=decimals)


def test_the_taught_judge_writes_decimals(taught):
    gen = HFJudge(taught, mode="generate", max_new_tokens=12)
    a, b, pct = gen.score_batch([DECIMAL_A, DECIMAL_B, PERCENT])
    assert (a.text, a.value) == ("Final Score: 3.7", 3.7)
    assert (b.text, b.value) == ("Final Score: 2.4", 2.4)
    assert pct.value == 73


def test_hf_logprob_reads_the_decimal(hf):
    a, b = hf._run_chunk(_template(hf, 1), _requests(hf, DECIMAL_A, DECIMAL_B))  # one batch, one forward pass
    assert a.value == pytest.approx(3.7, abs=0.05) and b.value == pytest.approx(2.4, abs=0.05)
    assert set(a.probs) == set(numeral_options(1, 5, 1)) and a.probs["3.7"] > 0.5
    assert a.normalized == pytest.approx((a.value - 1) / 4)
    two = hf._run_chunk(_template(hf, 2), _requests(hf, DECIMAL_A))[0]  # "3.7" then the end, on a 2-decimal grid
    assert two.value == pytest.approx(3.7, abs=0.05) and "3.70" in two.probs and "3.7" in two.probs


def test_hf_score_batch_uses_the_templates_decimals(hf):
    assert hf.template("image_generation", "point").decimals >= 1  # EvalMuse means carry decimals
    a, b = hf.score_batch([DECIMAL_A, DECIMAL_B])
    assert a.value == pytest.approx(3.7, abs=0.05) and b.value == pytest.approx(2.4, abs=0.05)


def test_integer_templates_are_unchanged(hf):
    # Read over the integers only (decimals=0), the same answer gives 3: the "." after "3" is not looked at.
    s = hf._run_chunk(_template(hf, 0), _requests(hf, DECIMAL_A))[0]
    assert set(s.probs) == {"1", "2", "3", "4", "5"}
    assert s.value == pytest.approx(3.0, abs=0.1) and s.probs["3"] > 0.9


def test_a_0_to_100_scale_still_reads(hf):
    s = hf.score_batch([PERCENT])[0]
    assert s.scale == (0, 100) and set(s.probs) == set(numeral_options(0, 100, 0))
    assert s.value == pytest.approx(73, abs=1.0) and s.probs["73"] > 0.9


@pytest.fixture(scope="module")
def served(taught):
    from unireward.serve.openai_compat import BackgroundServer

    with BackgroundServer(taught, served_name="taught") as srv:
        yield srv.port


def test_openai_logprob_reads_the_decimal(served, hf):
    remote = load_judge(f"openai://127.0.0.1:{served}/taught", mode="logprob", top_logprobs=20, image_format="PNG")
    t = _template(remote, 1)
    a, b = remote._run_chunk(t, _requests(remote, DECIMAL_A, DECIMAL_B))
    assert a.error is None, a.error
    assert a.value == pytest.approx(3.7, abs=0.05) and b.value == pytest.approx(2.4, abs=0.05)
    local = hf._run_chunk(_template(hf, 1), _requests(hf, DECIMAL_A))[0]
    assert a.value == pytest.approx(local.value, abs=0.01)  # the same reading in both backends
    assert a.probs["3.7"] == pytest.approx(local.probs["3.7"], abs=0.01)
    s = remote.score_batch([DECIMAL_A])[0]  # end to end, with the template's own decimals
    assert s.value == pytest.approx(3.7, abs=0.05)
    integers = remote._run_chunk(_template(remote, 0), _requests(remote, DECIMAL_A))[0]
    assert integers.value == pytest.approx(3.0, abs=0.1)
    pct = remote.score_batch([PERCENT])[0]
    assert pct.value == pytest.approx(73, abs=1.0)
