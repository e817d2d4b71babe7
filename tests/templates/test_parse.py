"""Every task x form x family through the parsers, with realistic answers, the upstream pitfalls, and the
markdown / adverb verdicts VL-RewardBench accepts (with the negatives that must stay unparsed)."""

from __future__ import annotations

import math

import pytest

from unireward.tasks import Form, Task
from unireward.templates import FAMILIES, get_template, list_templates, parse_score, parse_verdict


IG, IU, VG, VU = Task.IMAGE_GENERATION, Task.IMAGE_UNDERSTANDING, Task.VIDEO_GENERATION, Task.VIDEO_UNDERSTANDING

PAIR_CASES = [
    # (task, family, answer, expected winner)
    (IG, "v1", "Image 1 is better.", "A"),
    (IG, "v1", "Image 2 is better.", "B"),
    (IG, "v1", "Both images are equally good.", "tie"),
    (IG, "v1-llava", "Image 2 is better than Image 1.", "B"),
    (IG, "v1-llava", "After weighing alignment and quality, Image 1 is better than Image 2.", "A"),
    (IG, "2.0", "Alignment Score:\n Image 1: 0.4357\n Image 2: 0.5643\nCoherence Score:\n Image 1: 0.3\n "
                "Image 2: 0.7\nStyle Score:\n Image 1: 0.5\n Image 2: 0.5", "B"),
    (IG, "think", "<think>Image 1: alignment 8, quality 7, total 15. Image 2: 6 and 9, total 15... Image 2 is "
                  "better in style.</think>\n<answer>Image 1 is better</answer>", "A"),
    (IU, "v1", "Both answers mention the dog, but Answer 1 invents a cat. Answer 2 is better.", "B"),
    (IU, "v1-llava", "Answer 1 is better than Answer 2 because it counts the apples correctly.", "A"),
    (IU, "2.0", "Answer 1 is better", "A"),
    (IU, "think", "<think>Answer 2 names the wrong colour.</think><answer>Answer 1 is better</answer>", "A"),
    (VG, "v1", "Video 2 is better", "B"),
    (VG, "v1", "Both videos are equally good.", "tie"),
    (VG, "v1-llava", "Video 1 is better than Video 2.", "A"),
    (VG, "2.0", "Alignment Score:\n Video 1: 0.8\n Video 2: 0.2\nCoherence Score:\n Video 1: 0.6\n Video 2: 0.4\n"
                "Style Score:\n Video 1: 0.55\n Video 2: 0.45", "A"),
    (VG, "think", "<think>Video 2 keeps the ball's motion consistent.</think><answer>Video 2 is better</answer>", "B"),
    (VU, "v1", "1. Accuracy: Answer 2 is better here, it names the action.\n2. Completeness: ...\n"
               "Overall Judgment: Answer 1 is better than Answer 2.", "A"),
    (VU, "v1-llava", "Response 2 is better than Response 1.", "B"),
    (VU, "2.0", "Overall Judgment: Answer 2 is better than Answer 1.", "B"),
    (VU, "think", "<think>The man turns left, as Answer 2 says.</think><answer>Answer 2 is better</answer>", "B"),
    (IG, "think-qwen3vl", "<think>\n1. Semantic consistency:\n    Image 1 (6/10) - ...;\n    Image 2 (9/10) - ...\n"
                          "Total score:\nImage 1: 6=6\nImage 2: 9=9\n</think>\n<answer>Image 2 is better</answer>",
     "B"),
    (IU, "think-qwen3vl", "<think>...</think>\n<answer>Answer 1 is better</answer>", "A"),
    (VG, "think-qwen3vl", "<think>...</think>\n<answer>Video 1 is better</answer>", "A"),
    (VU, "think-qwen3vl", "<think>...</think>\n<answer>Answer 2 is better</answer>", "B"),
]


@pytest.mark.parametrize("task,family,answer,winner", PAIR_CASES)
def test_parse_verdict(task, family, answer, winner):
    v = parse_verdict(task, answer, family)
    assert v.winner == winner, v
    assert v.text == answer


def test_every_task_form_family_has_a_template_and_case():
    covered = {(t, f) for t, f, _, _ in PAIR_CASES} | {(t, f) for t, f, *_ in POINT_CASES}
    for task in Task:
        for family in FAMILIES:
            for form in Form:
                t = get_template(task, form, family)
                assert "{prompt}" not in t.render("a red fox", answer="x", answer_a="x", answer_b="y")
        assert all((task, fam) in covered for fam in FAMILIES)
    assert len(list_templates()) == 4 * 2 * len(FAMILIES)


POINT_CASES = [
    # (task, family, answer, value, extra checks)
    (IG, "v1", "puffin (animal): 1\nrock (object): 0\nstanding (activity): 1\nFinal Score: 3.67", 3.67,
     {"elements": {"puffin (animal)": 1, "rock (object)": 0, "standing (activity)": 1}}),
    (IG, "v1-llava", "Final Score: 4", 4.0, {}),
    (IG, "2.0", "Alignment Score (1-5): 2.6947000026\nCoherence Score (1-5): 4.5\nStyle Score (1-5): 3.0",
     (2.6947000026 + 4.5 + 3.0) / 3, {"dims": {"Alignment": 2.6947000026, "Coherence": 4.5, "Style": 3.0}}),
    (IG, "think", "Final Score: 5", 5.0, {}),
    (IU, "v1", "The response identifies both objects and their colours correctly but misses the text on the "
               "sign.\nFinal Score: 85", 85.0, {}),
    (IU, "v1-llava", "Final Score: 100", 100.0, {}),
    (IU, "2.0", "Final Score: 0", 0.0, {}),
    (IU, "think", "Final Score: 42", 42.0, {}),
    (VG, "v1", "visual quality: 3\ntemporal consistency: 4\ndynamic degree: 2\ntext-to-video alignment: 3\n"
               "factual consistency: 3\nFinal Score: 7", 7.0,
     {"dims": {"visual quality": 3.0, "temporal consistency": 4.0, "dynamic degree": 2.0,
               "text-to-video alignment": 3.0, "factual consistency": 3.0}}),
    (VG, "v1-llava", "Final Score: 10", 10.0, {}),
    (VG, "2.0", "Alignment Score (1-5): 4.2\nPhysics Score (1-5): 3.1\nStyle Score (1-5): 3.9", (4.2 + 3.1 + 3.9) / 3,
     {"dims": {"Alignment": 4.2, "Physics": 3.1, "Style": 3.9}}),
    (VG, "think", "Final Score: 6", 6.0, {}),
    (VU, "v1", "The answer describes the motion accurately.\nFinal Score: 4", 4.0, {}),
    (VU, "v1-llava", "Final Score: 1", 1.0, {}),
    (VU, "2.0", "Final Score: 5", 5.0, {}),
    (VU, "think", "Final Score: 3", 3.0, {}),
    (IG, "think-qwen3vl", "Final Score: 3.7", 3.7, {}),
    (IU, "think-qwen3vl", "Final Score: 64", 64.0, {}),
    (VG, "think-qwen3vl", "Final Score: 8", 8.0, {}),
    (VU, "think-qwen3vl", "Final Score: 2", 2.0, {}),
]


@pytest.mark.parametrize("task,family,answer,value,extra", POINT_CASES)
def test_parse_score(task, family, answer, value, extra):
    s = parse_score(task, answer, family)
    assert s.value == pytest.approx(value)
    lo, hi = s.scale
    assert s.normalized == pytest.approx((value - lo) / (hi - lo))
    for key, expected in extra.items():
        got = getattr(s, key)
        assert got.keys() == expected.keys()
        assert all(got[k] == pytest.approx(expected[k]) for k in expected)


# ---------------------------------------------------------------- upstream pitfalls (upstream.md section 8)
def test_scores_are_numbers_not_strings():
    nine, ten = parse_score(VG, "Final Score: 9"), parse_score(VG, "Final Score: 10")
    assert ten.value > nine.value  # max(["9", "10"]) == "9" upstream
    assert max([nine, ten], key=lambda s: s.value) is ten


def test_unparseable_is_none_never_a_default_winner():
    for text in ("", "I cannot decide.", "Image 3 is better.", "Neither is good."):
        v = parse_verdict(IG, text)
        assert v.winner is None and v.error
    assert parse_verdict(VU, "Answer 1 is better.\nOverall Judgment: it depends.").winner is None


def test_tie_is_a_tie_not_image_1():
    assert parse_verdict(IG, "Both images are equally good.").winner == "tie"
    assert parse_verdict(VG, "both videos are equally good").winner == "tie"


def test_long_answers_with_the_llava_phrase():
    # The upstream VideoGen eval tested `output in 'Video 1 is better than Video 2.'` (reversed), which
    # fails for any answer longer than the phrase.
    long = "Video 1 shows the ball rolling smoothly, while Video 2 flickers. Video 1 is better than Video 2."
    assert parse_verdict(VG, long, "v1-llava").winner == "A"
    # The DiffusionDPO sift only looked for 'Image 2 is better than Image 1': the Qwen phrasing is B too.
    assert parse_verdict(IG, "Image 2 is better.", "v1-llava").winner == "B"


def test_last_verdict_and_last_final_score_win():
    assert parse_verdict(IG, "At first glance Image 1 is better, but on closer look Image 2 is better.").winner == "B"
    assert parse_score(IU, "Final Score: 40\nOn reflection, the count is right.\nFinal Score: 70").value == 70


def test_nan_inf_and_out_of_scale_are_not_scores():
    assert parse_score(IG, "Final Score: nan").value is None
    assert parse_score(IG, "Final Score: 7").error == "Final Score 7 outside the scale (1, 5)"
    assert parse_score(IU, "Final Score: inf").value is None
    s = parse_score(IG, "Alignment Score (1-5): 3\nCoherence Score (1-5): nan\nStyle Score (1-5): 4", "2.0")
    assert s.value is None and s.dims == {"Alignment": 3.0, "Style": 4.0} and "Coherence" in s.error
    all_nan = "Alignment Score:\n Image 1: nan\n Image 2: nan"
    assert parse_verdict(IG, all_nan, "2.0").winner is None


def test_formatting_variants():
    assert parse_score(IG, "**Final Score:** 4.5").value == 4.5
    assert parse_score(IG, "Final Score: [3]").value == 3
    assert parse_score(IU, "final score: 85/100").value == 85
    assert parse_verdict(IU, "The first response is better.").winner == "A"
    assert parse_verdict(IG, "IMAGE 2 IS BETTER").winner == "B"


def test_pair_scores_probability_and_partial_nan():
    v = parse_verdict(IG, "Alignment Score:\n Image 1: 0.8\n Image 2: 0.2\nCoherence Score:\n Image 1: nan\n "
                          "Image 2: nan\nStyle Score:\n Image 1: 0.6\n Image 2: 0.4", "2.0")
    assert v.winner == "A" and v.prob_a == pytest.approx(0.7)
    assert set(v.dims) == {"Alignment", "Style"} and "Coherence" in v.error


def test_think_needs_an_answer_block():
    v = parse_verdict(IG, "<think>Image 1 is better.</think>", "think")
    assert v.winner is None and "<answer>" in v.error


def test_with_scale_for_sifting():
    t = get_template(IG, Form.POINT).with_scale((1, 10))
    assert "from 1 to 10" in t.render("a fox") and t.scale == (1, 10)
    with pytest.raises(ValueError, match="fixed scale"):
        get_template(IG, Form.POINT, "2.0").with_scale((1, 10))


def test_unknown_family_lists_valid_ones():
    with pytest.raises(ValueError, match="valid families: v1, v1-llava, 2.0, think, think-qwen3vl, or a path"):
        get_template(IG, Form.PAIR, "v3")
    with pytest.raises(ValueError, match="valid tasks"):
        Task.parse("audio_generation")
    assert math.isclose(parse_score(IG, "Final Score: 1").normalized, 0.0)


# ---------------------------------------------------------------- markdown and degree adverbs (issue 14, item 4)
VERDICT_VARIANTS = [
    # (task, answer, expected winner)
    (IU, "Answer 1 is slightly better", "A"),
    (IU, "Answer 2 is much better than Answer 1.", "B"),
    (IU, "**Answer 1** is better", "A"),
    (IU, "**Answer 2 is better**", "B"),
    (IU, "__Answer 2__ is better.", "B"),
    (IU, "Answer **1** is clearly better.", "A"),
    (IU, "*Response 2* is significantly better than *Response 1*.", "B"),
    (IU, "`Answer 1` is somewhat better", "A"),
    (IU, "Overall, Answer 2 is a bit better.", "B"),
    (IU, "The **second** response is marginally better.", "B"),
    (IU, "### Verdict\n**Answer 1 is considerably better than Answer 2.**", "A"),
    (IG, "__Image 2__ is better", "B"),
    (IG, "***Image 1*** is far better than Image 2.", "A"),
    (IG, "**Both images are equally good.**", "tie"),
    (VG, "_Video 2_ is noticeably better.", "B"),
    (VG, "Video 1 is a little better.", "A"),
    (VU, "Overall Judgment: **Answer 2** is slightly better than Answer 1.", "B"),
    # the last verdict still wins once emphasis is gone
    (IU, "At first **Answer 1** seemed better, but **Answer 2** is clearly better.", "B"),
]


@pytest.mark.parametrize("task,answer,winner", VERDICT_VARIANTS)
def test_markdown_and_adverb_verdicts(task, answer, winner):
    v = parse_verdict(task, answer)
    assert v.winner == winner, v
    assert v.text == answer  # the raw answer is kept as written, emphasis included


NOT_VERDICTS = [
    (IU, "Answer 1 is not better than Answer 2."),
    (IU, "**Answer 1** is not better"),
    (IU, "Answer 1 isn't better."),
    (IU, "Answer 1 is slightly worse than Answer 2."),
    (IU, "Answer 1 is hardly better."),
    (IU, "Answer 1 is not slightly better."),
    (IG, "Image 1 is barely any better."),
    (IG, "my_image_1 is better"),  # underscores inside a word are not emphasis
    (IU, "Answer 3 is much better."),
    (VG, "Video 1 is much worse."),
]


@pytest.mark.parametrize("task,answer", NOT_VERDICTS)
def test_negatives_stay_unparsed(task, answer):
    v = parse_verdict(task, answer)
    assert v.winner is None and v.error, v


def test_emphasis_stripping_keeps_words():
    from unireward.templates.parse import strip_emphasis

    assert strip_emphasis("**Answer 1** is __better__, see snake_case and *x*") == \
        "Answer 1 is better, see snake_case and x"
