"""reason-logprob mode: the judge writes its reasoning, then the verdict or score options are read in one forward
pass where the answer starts. A tiny judge is taught answers whose reasoning comes first (a description before
the verdict; five dimension lines before "Final Score:"), then read in-process and through our OpenAI-compatible
server."""

from __future__ import annotations

import pytest

from tests.judges.conftest import item
from unireward import load_judge
from unireward.judges.hf import HFJudge
from unireward.templates import answer_points, get_template


PAIR_A = item("image_generation", "pair", seed=500, prompt="a red circle")
PAIR_B = item("image_generation", "pair", seed=600, prompt="a blue square")
VIDEO = item("video_generation", "point", seed=700, prompt="a ball rolls left")
REASONED_A = "Image 1 shows a red circle. Image 2 shows a green star.\nImage 1 is better."
REASONED_B = "Image 1 shows a red star. Image 2 shows a blue square.\nImage 2 is better."
DIMENSIONS = ("visual quality: 3\ntemporal consistency: 2\ndynamic degree: 3\ntext-to-video alignment: 4\n"
              "factual consistency: 3\nFinal Score: 7")
LESSONS = [(PAIR_A, "pair", REASONED_A), (PAIR_B, "pair", REASONED_B), (VIDEO, "point", DIMENSIONS)]


@pytest.fixture(scope="module")
def taught(tmp_path_factory) -> str:
    from unireward.tiny_models import build_qwen2_5_vl, judge_corpus, qwen_tokenizer, teach

    root = tmp_path_factory.mktemp("reasoned")
    corpus = judge_corpus() + [answer for _, _, answer in LESSONS]
    base = build_qwen2_5_vl(root / "base", tokenizer=qwen_tokenizer(corpus=corpus, vocab_size=700))
    return str(teach(base, root / "judge", LESSONS, steps=120, lr=1e-2))


def test_answer_points_are_where_the_parser_reads():
    pair = get_template("image_generation", "pair", "v1")
    assert answer_points(pair, REASONED_A) == {"": REASONED_A.index("Image 1 is better")}
    judged = "Overall Judgment: Answer 1 is better. Later: Overall Judgment: Answer 2 is better."
    marked = get_template("video_understanding", "pair", "v1")
    assert answer_points(marked, judged) == {"": judged.rindex("Answer 2 is better")}
    think = get_template("image_generation", "pair", "think")
    text = "<think>Image 2 is better at colour; totals 8 vs 6</think>\n<answer>Image 1 is better</answer>"
    assert answer_points(think, text) == {"": text.rindex("Image 1 is better")}
    point = get_template("video_generation", "point", "v1")
    assert answer_points(point, DIMENSIONS) == {"": DIMENSIONS.rindex("7")}
    dims = get_template("image_generation", "point", "2.0")
    acs = "Alignment Score (1-5): 2.69\nCoherence Score (1-5): 4.1\nStyle Score (1-5): 3.0"
    assert answer_points(dims, acs) == {"Alignment": acs.index("2.69"), "Coherence": acs.index("4.1"),
                                        "Style": acs.index("3.0")}
    shares = get_template("image_generation", "pair", "2.0")
    blocks = "Alignment Score:\n Image 1: 0.6\n Image 2: 0.4\n\nCoherence Score:\n Image 1: 0.3\n Image 2: 0.7\n\n" \
             "Style Score:\n Image 1: 0.5\n Image 2: 0.5"
    assert answer_points(shares, blocks) == {"Alignment": blocks.index("0.6"), "Coherence": blocks.index("0.3"),
                                             "Style": blocks.rindex("0.5", 0, blocks.rindex("Image 2"))}
    assert answer_points(pair, "I cannot tell.") == {} and answer_points(dims, acs[:30]) == {}  # nothing to read


def test_reasoning_then_probabilities_agrees_with_generate(taught):
    gen = HFJudge(taught, mode="generate", max_new_tokens=96)
    reasoned = HFJudge(taught, mode="reason-logprob", max_new_tokens=96)
    a, b = gen.compare_batch([PAIR_A, PAIR_B])
    assert (a.winner, a.text, b.winner) == ("A", REASONED_A, "B") and a.prob_a is None
    ra, rb = reasoned.compare_batch([PAIR_A, PAIR_B])
    assert (ra.winner, rb.winner) == ("A", "B") and ra.text == REASONED_A  # the reasoning is kept
    assert ra.prob_a > 0.9 and rb.prob_a < 0.1 and set(ra.probs) == {"A", "B", "tie"}
    (s,) = reasoned.score_batch([VIDEO])
    assert s.value == pytest.approx(7.0, abs=0.3) and s.probs["7"] > 0.7 and s.text == DIMENSIONS
    assert gen.score_batch([VIDEO])[0].value == 7


def test_reasoning_prob_is_the_lowest_probability_among_the_reasoning_tokens(taught):
    import torch

    from unireward.judges.base import _item
    from unireward.tasks import Form

    reasoned = HFJudge(taught, mode="reason-logprob", max_new_tokens=96)
    (v,) = reasoned.compare_batch([PAIR_A])
    # the same greedy answer generated here with its scores: each token's probability, and where it ends
    inputs = reasoned.encode([reasoned._request(_item(PAIR_A, ()), Form.PAIR, False)])
    out = reasoned.model.generate(**inputs, max_new_tokens=96, do_sample=False, output_scores=True,
                                  return_dict_in_generate=True)
    new = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
    probs = [torch.softmax(step[0].float(), -1)[t].item() for step, t in zip(out.scores, new)]
    ends, text = [], ""
    for t in new:
        text += reasoned.tokenizer.decode([t], skip_special_tokens=True)
        ends.append(len(text))
    assert text == REASONED_A
    cut = REASONED_A.index("Image 1 is better")  # the verdict is read there: the reasoning is what precedes it
    reasoning = [p for end, p in zip(ends, probs) if end <= cut]
    assert len(reasoning) > 5 and v.reasoning_prob == pytest.approx(min(reasoning), rel=1e-4)
    assert v.reasoning_prob < min(probs[len(reasoning):] + [1.0]) or v.reasoning_prob == pytest.approx(min(probs))
    (s,) = reasoned.score_batch([VIDEO])
    assert 0 < s.reasoning_prob <= 1
    # only reason-logprob reads it; generate and logprob modes have no reasoning to be unsure of
    assert HFJudge(taught, mode="generate", max_new_tokens=96).compare_batch([PAIR_A])[0].reasoning_prob is None


def test_swap_averages_both_orders(taught):
    judge = HFJudge(taught, mode="reason-logprob", max_new_tokens=96, swap=True)
    (v,) = judge.compare_batch([PAIR_A])
    assert v.swapped is not None and v.probs is not None and v.prob_a == pytest.approx(
        (v.probs["A"] + v.probs["tie"] / 2), abs=1e-6)
    (first,) = HFJudge(taught, mode="reason-logprob", max_new_tokens=96).compare_batch([PAIR_A])
    assert v.reasoning_prob <= v.swapped.reasoning_prob  # the less sure of the two orders
    assert v.reasoning_prob == pytest.approx(min(first.reasoning_prob, v.swapped.reasoning_prob), rel=1e-4)


def test_an_answer_without_a_point_keeps_its_parsed_result(tiny_qwen):
    judge = HFJudge(tiny_qwen, mode="reason-logprob", max_new_tokens=3)  # random weights: no verdict phrase
    (v,) = judge.compare_batch([PAIR_A])
    assert v.winner is None and "no point to read probabilities at" in v.error


@pytest.fixture(scope="module")
def served(taught):
    from unireward.serve.openai_compat import BackgroundServer

    with BackgroundServer(taught, served_name="reasoned") as srv:
        yield srv.port


def test_the_openai_backend_continues_the_reasoning(served, taught):
    remote = load_judge(f"openai://127.0.0.1:{served}/reasoned", mode="reason-logprob", max_new_tokens=96,
                        top_logprobs=20, image_format="PNG")
    local = HFJudge(taught, mode="reason-logprob", max_new_tokens=96)
    (rv,), (lv,) = remote.compare_batch([PAIR_A]), local.compare_batch([PAIR_A])
    assert rv.error is None, rv.error
    assert rv.winner == lv.winner == "A" and rv.prob_a == pytest.approx(lv.prob_a, abs=0.02)
    assert rv.reasoning_prob == pytest.approx(lv.reasoning_prob, rel=0.02)  # the server's token log-probs
    (rs,) = remote.score_batch([VIDEO])
    assert rs.value == pytest.approx(7.0, abs=0.3)
