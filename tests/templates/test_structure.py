"""Every task x form x family renders its checkpoint family's layout (upstream.md section 2).

Each template is rendered with the caption/question "P" and the answers "A1", "A2" (pairwise) or "R"
(pointwise), and the test asserts the structural elements: the framing line and the bracketed
conditioning block at the end (exact tail, so trailing newlines count), the labels, the phrases the prompt
asks for, the example blocks (which must themselves parse), the frames per video, the decimals, and
whether logprob mode may read the template.
"""

from __future__ import annotations

import re

import pytest

from unireward.tasks import Form, Task
from unireward.templates import FAMILIES, get_template, list_templates, parse_answer, render_item
from unireward.templates.video_generation import FEEDBACK_DIMS


IG, IU, VG, VU = Task.IMAGE_GENERATION, Task.IMAGE_UNDERSTANDING, Task.VIDEO_GENERATION, Task.VIDEO_UNDERSTANDING
PAIR, POINT = Form.PAIR, Form.POINT
TASK_FRAMING = "Your task is provided as follows:\n"

# (task, form, family) -> the exact end of the rendered text (framing line, labels, brackets, trailing newline)
TAILS = {
    (IG, PAIR, "v1"): 'Give a clear conclusion such as "Image 1 is better.", "Image 2 is better." and '
                      '"Both images are equally good."\n' + TASK_FRAMING + "Text Caption: [P]",
    (IG, PAIR, "v1-llava"): 'Give a clear conclusion such as "Image 1 is better than Image 2.", "Image 2 is better '
                            'than Image 1." and "Both images are equally good."\n' + TASK_FRAMING
                            + "Text Caption: [P]",
    (IG, PAIR, "2.0"): "Style Score:\n Image 1: X\n Image 2: Y\n\n" + TASK_FRAMING + "Text Caption: [P]",
    (IG, PAIR, "think"): "placeholders that only show the format; base your own evaluation on the two given "
                         "images.**\n\n" + TASK_FRAMING + "Text Caption: [P]",
    (IG, POINT, "v1"): "after 'Final Score:'.\n" + TASK_FRAMING + "Text Caption: [P]",
    (IG, POINT, "2.0"): "Alignment Score (1-5): X\nCoherence Score (1-5): Y\nStyle Score (1-5): Z\n\n" + TASK_FRAMING
                        + "Text Caption: [P]",
    (IU, PAIR, "v1"): "such as 'Answer 1 is better' or 'Answer 2 is better.'\n\nQuestion: P\nAnswer 1: A1\n"
                      "Answer 2: A2\n",
    (IU, PAIR, "v1-llava"): "explain your choice in detail.\n" + TASK_FRAMING
                            + "Question: [P]\nThe first response: [A1]\nThe second response: [A2]\n",
    (IU, PAIR, "think"): "two given answers.**\n\n" + TASK_FRAMING + "Question: [P]\nAnswer 1: [A1]\nAnswer 2: [A2]",
    (IU, POINT, "v1"): 'after "Final Score:".\n' + TASK_FRAMING + "Question: [P]\nResponse: [R]\n",
    (VG, PAIR, "v1"): "'Both videos are equally good.'\n\nYour task is as follows:\nText Caption: [P]\n",
    (VG, PAIR, "v1-llava"): '"Video 1 is better than Video 2.", "Video 2 is better than Video 1." and "Both videos '
                            'are equally good."\n' + TASK_FRAMING + "Text Caption: [P]",
    (VG, PAIR, "2.0"): "Style Score:\n Video 1: X\n Video 2: Y\n\n" + TASK_FRAMING + "Text Caption: [P]",
    (VG, PAIR, "think"): "two given videos.**\n\n" + TASK_FRAMING + "Text Caption: [P]",
    (VG, POINT, "v1"): "on the given video.**\nYour task is provided as follows: Text Prompt: [P]",
    (VG, POINT, "2.0"): "Alignment Score (1-5): X\nPhysics Score (1-5): Y\nStyle Score (1-5): Z\n\n" + TASK_FRAMING
                        + "Text Caption: [P]",
    (VU, PAIR, "v1"): "you cannot say that both answers are equally good.",
    (VU, PAIR, "v1-llava"): "answers the question better.\n" + TASK_FRAMING + "Question: [P]\nResponse 1: [A1]\n"
                            "Response 2: [A2]",
    (VU, PAIR, "think"): "two given answers.**\n\n" + TASK_FRAMING + "Question: P\nAnswer 1: A1\nAnswer 2: A2\n",
    (VU, POINT, "v1"): "after 'Final Score:'.\n" + TASK_FRAMING + "Question: [P]\nResponse: [R]",
    (IG, PAIR, "think-qwen3vl"): "</answer>\n\nNote: this example only shows the exact format (line breaks, "
                                 "indentation, symbols and style). Follow it exactly, but base your evaluation on "
                                 "the given caption and images.\n",
    (IU, PAIR, "think-qwen3vl"): "the given question, reference image and candidate answers.\n",
    (VG, PAIR, "think-qwen3vl"): "the given caption and the two videos (the frames split into two halves).\n",
    (VU, PAIR, "think-qwen3vl"): "the given question, reference video and candidate answers.\n",
}

# Templates that are the same as another family's (the family adds no format of its own for them).
ALIASES = {
    (IG, POINT, "v1-llava"): "v1", (IG, POINT, "think"): "v1", (IG, POINT, "think-qwen3vl"): "v1",
    (IU, PAIR, "2.0"): "v1",
    (IU, POINT, "v1-llava"): "v1", (IU, POINT, "2.0"): "v1", (IU, POINT, "think"): "v1",
    (IU, POINT, "think-qwen3vl"): "v1",
    (VG, POINT, "v1-llava"): "v1", (VG, POINT, "think"): "v1", (VG, POINT, "think-qwen3vl"): "v1",
    (VU, PAIR, "2.0"): "v1",
    (VU, POINT, "v1-llava"): "v1", (VU, POINT, "2.0"): "v1", (VU, POINT, "think"): "v1",
    (VU, POINT, "think-qwen3vl"): "v1",
}

KEYS = [(t, f, fam) for t in Task for f in Form for fam in FAMILIES]


def rendered(task: Task, form: Form, family: str) -> str:
    t = get_template(task, form, family)
    answers = [] if task.is_generation else (["A1", "A2"] if form == PAIR else ["R"])
    return render_item(t, "P", answers)


def test_every_key_is_specified_once():
    assert set(TAILS) | set(ALIASES) == set(KEYS) and not set(TAILS) & set(ALIASES)
    assert len(list_templates()) == len(KEYS) == 40


@pytest.mark.parametrize("task,form,family", KEYS, ids=[f"{f}-{t.value}-{fm.value}" for t, fm, f in KEYS])
def test_layout(task, form, family):
    text = rendered(task, form, family)
    if (task, form, family) in ALIASES:
        assert text == rendered(task, form, ALIASES[(task, form, family)])
        return
    assert text.endswith(TAILS[(task, form, family)]), text[-300:]
    framing = "Your task is" in text
    qwen3vl_or_dpo = family == "think-qwen3vl" or (task == VU and form == PAIR and family == "v1") or \
        (task == IU and form == PAIR and family == "v1")
    assert framing != qwen3vl_or_dpo  # the framing line exactly where upstream has it
    assert text.count("{") == text.count("}") == 0  # every placeholder filled


@pytest.mark.parametrize("task,form,family", [k for k in KEYS if get_template(*k).parser == "phrase"])
def test_requested_phrases(task, form, family):
    t = get_template(task, form, family)
    text = t.text
    if family == "v1-llava" and not task.is_generation:
        # The LLaVA-Critic layout asks for a reasoned choice without fixed phrases; none is offered as a tie.
        assert "tie" not in t.phrases and "equally good" not in text
        return
    if task == VU:
        assert 'For example: "Overall Judgment: Answer 1 is better than Answer 2."' in text
        assert "equally good" in text and "tie" not in t.phrases  # the prompt forbids a tie
        return
    for phrase in t.phrases.values():
        assert phrase in text, phrase
    assert ("tie" in t.phrases) == task.is_generation  # understanding prompts offer no tie


def _totals_add_up(example: str, noun: str) -> None:
    for k in ("1", "2"):
        terms, total = re.search(rf"^{noun} {k}: ([\d+]+)=(\d+)$", example, re.M).groups()
        assert sum(map(int, terms.split("+"))) == int(total)


THINK_KEYS = [k for k in KEYS if k[2].startswith("think") and k[1] == PAIR]


@pytest.mark.parametrize("task,form,family", THINK_KEYS)
def test_think_example_block(task, form, family):
    t = get_template(task, form, family)
    noun = "Image" if task == IG else "Video" if task == VG else "Answer"
    example = t.text[t.text.index("<think>\n1."):]
    example = example[:example.index("</answer>") + len("</answer>")]
    assert re.search(rf"^1\. [A-Z][a-z ]+:\s+{noun} 1 \(\d+/10\) - \.\.\.;\s+{noun} 2 \(\d+/10\) - \.\.\.$",
                     example, re.M), example
    assert "[Additional dimension" in example and "\nTotal score:\n" in example
    _totals_add_up(example, noun)
    assert example.endswith(f"</think>\n<answer>{noun} 1 is better</answer>")
    assert parse_answer(t, example).winner == "A"  # the example is in the very format the parser reads
    if family == "think":
        assert "placeholders" in t.text and ("Example output format:\n" in t.text or "Example format:\n" in t.text)
    else:  # the strict qwen3vl prompt: procedure, constraints or instructions, required format, inline 「」
        assert "Evaluation procedure:" in t.text and "Required output format" in t.text
        assert "「{prompt}」" in t.text and "\n    " + noun + " 1 (9/10) - ...;\n" in t.text
        assert ("Constraints:" in t.text) == (task == IG) and ("Instructions (" in t.text) == (task != IG)


def test_video_generation_point_example_and_placeholder_note():
    t = get_template(VG, POINT, "v1")
    start = t.text.index("An example answer:\n") + len("An example answer:\n")
    example, rest = t.text[start:].split("\n\n", 1)
    assert [line.split(":")[0] for line in example.splitlines()] == [*FEEDBACK_DIMS, "Final Score"]
    assert rest.startswith("**Note:") and "placeholders" in rest.split("\n")[0]
    s = parse_answer(t, example)
    assert s.value == 6 and set(s.dims) == set(FEEDBACK_DIMS)
    assert "(1) visual quality:" in t.text and "[1,2,3,4]" in t.text


def test_frames_decimals_and_scales():
    frames = {k: get_template(*k).num_frames for k in KEYS}
    assert {k for k, n in frames.items() if n is not None} == {(VG, POINT, "2.0")}
    assert frames[(VG, POINT, "2.0")] == 16  # the APS prompt reads 16 frames; everything else the judge's 8
    decimals = {k: get_template(*k).decimals for k in KEYS if get_template(*k).decimals}
    assert decimals == {**{(IG, POINT, f): 1 for f in FAMILIES if f != "2.0"},
                        **{(VG, POINT, f): 1 for f in FAMILIES if f != "2.0"},
                        (IG, POINT, "2.0"): 2, (VG, POINT, "2.0"): 2, (IG, PAIR, "2.0"): 2, (VG, PAIR, "2.0"): 2}
    assert get_template(IU, POINT).scale == (0, 100) and get_template(VU, POINT).scale == (1, 5)
    assert get_template(VG, POINT).scale == (1, 10) and get_template(IG, POINT).scale == (1, 5)


def test_logprob_only_where_the_answer_starts_with_the_value():
    allowed = {k for k in KEYS if get_template(*k).logprob_prefixes is not None}
    v1_like = ("v1", "v1-llava", "2.0", "think", "think-qwen3vl")
    assert allowed == {
        (IG, PAIR, "v1"), (IG, PAIR, "v1-llava"), (VG, PAIR, "v1"), (VG, PAIR, "v1-llava"),
        (IU, PAIR, "v1"), (IU, PAIR, "2.0"), (VU, PAIR, "v1"), (VU, PAIR, "2.0"),
        *{(IG, POINT, f) for f in v1_like if f != "2.0"},
        *{(task, POINT, f) for task in (IU, VU) for f in v1_like},
    }
    assert get_template(VU, PAIR).logprob_prefixes == {"": "Overall Judgment: "}
    for k in allowed - {(VU, PAIR, "v1"), (VU, PAIR, "2.0")}:
        assert get_template(*k).logprob_prefixes == ({"": ""} if k[1] == PAIR else {"": "Final Score: "})


def test_think_qwen3vl_presets_use_their_family():
    from unireward.judges.registry import list_presets

    for p in list_presets():
        if p.kind != "vlm":
            continue  # scorers (the zoo) have no prompt family
        get_template(IG, PAIR, p.family)  # every preset's family exists
        if "Think-qwen3vl" in p.name:
            assert p.family == "think-qwen3vl", p.name
        elif "Think" in p.name:
            assert p.family == "think", p.name
