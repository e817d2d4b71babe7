"""Reading judge answers into `Verdict` and `Score` values.

Rules, chosen against the upstream pitfalls (upstream.md section 8):
- The last verdict phrase in the answer wins; with a marker ("Overall Judgment") only the text after the
  last marker counts. Phrases are matched with flexible spacing and case, so "Image 1 is better than
  Image 2." and "image 1 is better" both read as A. Nothing found means `winner=None`, never "A".
- Markdown emphasis is ignored before matching (``*``, backticks, and ``_`` at a word's edge), so
  "**Answer 1** is better" and "__Image 2__ is better" read as verdicts, as VL-RewardBench's script
  accepts them. One degree adverb may stand between "is" and "better" (`ADVERBS`: "is slightly
  better", "is much better"); nothing else may, so "Answer 1 is not better" is no verdict.
- Numbers are parsed as numbers: "Final Score: 10" beats "Final Score: 9". The last "Final Score" wins.
- `nan`, `inf` and values outside the template's scale are not scores: `value=None` and `error` says why.
- Multi-dimension answers keep every valid dimension in `dims`; the overall value needs all of them.
"""

from __future__ import annotations

import math
import re

from unireward.tasks import Form, Score, Task, Verdict, normalize
from unireward.templates.base import Template, get_template


NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?"
_NOUNS = {
    Task.IMAGE_GENERATION: ("image",),
    Task.VIDEO_GENERATION: ("video",),
    Task.IMAGE_UNDERSTANDING: ("answer", "response"),
    Task.VIDEO_UNDERSTANDING: ("answer", "response"),
}
_ORDINAL = {"1": "A", "2": "B", "first": "A", "second": "B"}
ADVERBS = ("slightly", "much", "clearly", "significantly", "somewhat", "marginally", "considerably", "far",
           "noticeably", "overall", "a bit", "a little")
_IS_BETTER = r"\s+is\s+(?:(?:" + "|".join(a.replace(" ", r"\s+") for a in ADVERBS) + r")\s+)?(?:the\s+)?better\b"
_EMPHASIS = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")


def strip_emphasis(text: str) -> str:
    """`text` without markdown emphasis marks: ``*``, backticks, and underscores at a word's edge."""
    return _EMPHASIS.sub("", text)


def _verdict_patterns(task: Task) -> list[tuple[re.Pattern[str], str | None]]:
    nouns = "|".join(_NOUNS[task])
    return [
        # "Image 1 is better", "Answer 2 is slightly better than Answer 1", "Response 1 is the better"
        (re.compile(rf"\b(?:{nouns})\s*([12]){_IS_BETTER}", re.I), None),
        # "The first response is better"
        (re.compile(rf"\bthe\s+(first|second)\s+(?:{nouns}){_IS_BETTER}", re.I), None),
        # "Both images are equally good"
        (re.compile(rf"\b(?:both|the\s+two)\s+(?:{nouns})s?\s+are\s+equally\s+(?:good|bad|well)\b", re.I), "tie"),
    ]


def _find_verdict(task: Task, text: str) -> str | None:
    """The label of the last verdict phrase in `text` (markdown emphasis ignored), or None."""
    text = strip_emphasis(text)
    best: tuple[int, str] | None = None
    for pattern, fixed in _verdict_patterns(task):
        for m in pattern.finditer(text):
            label = fixed or _ORDINAL[m.group(1).lower()]
            if best is None or m.start() > best[0]:
                best = (m.start(), label)
    return best[1] if best else None


def _to_float(s: str) -> float | None:
    x = float(s)
    return None if math.isnan(x) or math.isinf(x) else x


def _in_range(x: float, scale: tuple[float, float] | None) -> bool:
    return scale is None or scale[0] <= x <= scale[1]


def _parse_phrase(t: Template, text: str) -> Verdict:
    segment = text
    if t.marker and t.marker.lower() in text.lower():
        segment = text[text.lower().rfind(t.marker.lower()) + len(t.marker):]
    label = _find_verdict(t.task, segment)
    if label is None:
        where = f" after the last '{t.marker}'" if segment is not text else ""
        return Verdict(None, text=text, error=f"no verdict phrase found{where}")
    return Verdict(label, prob_a=None, text=text)


def _parse_think(t: Template, text: str) -> Verdict:
    blocks = re.findall(r"<answer>(.*?)</answer>", text, re.S | re.I)
    if not blocks:
        return Verdict(None, text=text, error="no <answer>...</answer> block")
    label = _find_verdict(t.task, blocks[-1])
    if label is None:
        return Verdict(None, text=text, error="no verdict phrase inside <answer>")
    return Verdict(label, text=text)


def _parse_pair_scores(t: Template, text: str) -> Verdict:
    noun = "video" if t.task.modality == "video" else "image"
    shares: dict[str, float] = {}
    problems = []
    for dim in t.dims:
        pat = re.compile(
            rf"{dim}\s+Score\s*:?\s*{noun}\s*1\s*:\s*({NUM})\s*,?\s*{noun}\s*2\s*:\s*({NUM})", re.I | re.S
        )
        found = pat.findall(text)
        if not found:
            problems.append(f"{dim} missing")
            continue
        a, b = (_to_float(x) for x in found[-1])
        if a is None or b is None or a < 0 or b < 0 or a + b <= 0:
            problems.append(f"{dim} invalid ({found[-1][0]}, {found[-1][1]})")
            continue
        shares[dim] = a / (a + b)
    if not shares:
        return Verdict(None, text=text, error="no valid dimension scores: " + "; ".join(problems))
    prob_a = sum(shares.values()) / len(shares)
    winner = "tie" if abs(prob_a - 0.5) < 1e-9 else ("A" if prob_a > 0.5 else "B")
    return Verdict(winner, prob_a=prob_a, text=text, dims=shares, error="; ".join(problems) or None)


def _dim_value(dim: str, text: str, with_scale_label: bool) -> str | None:
    label = r"\s+Score\s*(?:\(\s*\d+\s*-\s*\d+\s*\))?" if with_scale_label else r"(?:\s+score)?"
    found = re.findall(rf"{re.escape(dim)}{label}\s*\**\s*[:：]\s*\**\s*({NUM})", text, re.I)
    return found[-1] if found else None


def _score(t: Template, text: str, value: float | None, dims: dict, elements: dict, error: str | None) -> Score:
    scale = t.scale or (0.0, 1.0)
    return Score(value, scale=scale, dims=dims, normalized=normalize(value, scale), text=text,
                 elements=elements, error=error if value is None else None)


def _read_dims(t: Template, text: str, with_scale_label: bool) -> tuple[dict[str, float], list[str]]:
    dims, problems = {}, []
    for dim in t.dims:
        raw = _dim_value(dim, text, with_scale_label)
        x = None if raw is None else _to_float(raw)
        if x is None or not _in_range(x, t.dim_scale):
            problems.append(f"{dim}: {'missing' if raw is None else raw}")
        else:
            dims[dim] = x
    return dims, problems


def _parse_final_score(t: Template, text: str) -> Score:
    dims, _ = _read_dims(t, text, with_scale_label=False)
    elements = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(
        r"^\s*[-*]?\s*([^:\n]+?\([^()\n]+\))\s*:\s*([01])\s*$", text, re.M)}
    found = re.findall(rf"Final\s+Score\s*\**\s*[:：]?\s*\**\s*\[?\s*({NUM})", text, re.I)
    if not found:
        return _score(t, text, None, dims, elements, "no 'Final Score:' number")
    x = _to_float(found[-1])
    if x is None:
        return _score(t, text, None, dims, elements, f"Final Score is {found[-1]}")
    if not _in_range(x, t.scale):
        return _score(t, text, None, dims, elements, f"Final Score {found[-1]} outside the scale {t.scale}")
    return _score(t, text, x, dims, elements, None)


def _parse_dim_scores(t: Template, text: str) -> Score:
    dims, problems = _read_dims(t, text, with_scale_label=True)
    if problems:
        return _score(t, text, None, dims, {}, "invalid or missing dimensions: " + "; ".join(problems))
    return _score(t, text, sum(dims.values()) / len(dims), dims, {}, None)


# ---------------------------------------------------------------------- where the answer's values start
def answer_points(t: Template, text: str) -> dict[str, int]:
    """Where, in a generated answer, each value the parser reads begins: {"" or dimension: character index}.

    The ``reason-logprob`` mode cuts the generated text there and reads the options' probabilities at that
    point (the verdict phrase, or the number after "Final Score:", or each dimension's number). The points
    are those `parse_answer` reads: the last verdict phrase (after the last marker; inside the last
    <answer> block for think), the last "Final Score" number, each dimension's last number, Image 1's share
    per dimension for the 2.0 pair scores. A value the text does not contain has no point; emphasis marks
    are not skipped here (an emphasised verdict has no point and the parsed answer stands).
    """
    if t.parser in ("phrase", "think"):
        start, segment = _verdict_segment(t, text)
        if segment is None:
            return {}
        found = [(m.start(), m) for pattern, _ in _verdict_patterns(t.task) for m in pattern.finditer(segment)]
        return {"": start + max(found, key=lambda x: x[0])[0]} if found else {}
    if t.parser == "final_score":
        found = list(re.finditer(rf"Final\s+Score\s*\**\s*[:：]?\s*\**\s*\[?\s*({NUM})", text, re.I))
        return {"": found[-1].start(1)} if found else {}
    points = {}
    for dim in t.dims:
        if t.parser == "dim_scores":
            pat = rf"{re.escape(dim)}\s+Score\s*(?:\(\s*\d+\s*-\s*\d+\s*\))?\s*\**\s*[:：]\s*\**\s*({NUM})"
        else:  # pair_scores: the share of Image/Video 1
            noun = "video" if t.task.modality == "video" else "image"
            pat = rf"{re.escape(dim)}\s+Score\s*:?\s*{noun}\s*1\s*:\s*({NUM})"
        found = list(re.finditer(pat, text, re.I | re.S))
        if found:
            points[dim] = found[-1].start(1)
    return points if len(points) == len(t.dims) else {}


def _verdict_segment(t: Template, text: str) -> tuple[int, str | None]:
    """The part of `text` a verdict is read from, and its offset."""
    if t.parser == "think":
        blocks = list(re.finditer(r"<answer>(.*?)(?:</answer>|$)", text, re.S | re.I))
        return (blocks[-1].start(1), blocks[-1].group(1)) if blocks else (0, None)
    if t.marker and t.marker.lower() in text.lower():
        start = text.lower().rfind(t.marker.lower()) + len(t.marker)
        return start, text[start:]
    return 0, text


_PARSERS = {
    "phrase": _parse_phrase,
    "think": _parse_think,
    "pair_scores": _parse_pair_scores,
    "final_score": _parse_final_score,
    "dim_scores": _parse_dim_scores,
}


def parse_answer(template: Template, text: str) -> Verdict | Score:
    """Parse `text` as the answer to `template` (a Verdict for pairwise, a Score for pointwise)."""
    return _PARSERS[template.parser](template, text or "")


def parse_verdict(task: Task | str, text: str, family: str = "v1") -> Verdict:
    """Parse a pairwise answer. Returns `Verdict(winner=None, error=...)` when no verdict is stated."""
    return parse_answer(get_template(task, Form.PAIR, family), text)


def parse_score(task: Task | str, text: str, family: str = "v1") -> Score:
    """Parse a pointwise answer. Returns `Score(value=None, error=...)` when no valid score is stated."""
    return parse_answer(get_template(task, Form.POINT, family), text)
