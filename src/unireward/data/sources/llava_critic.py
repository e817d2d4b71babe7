"""LLaVA-Critic-113k: ``lmms-lab/llava-critic-113k`` (parquet, configs ``pairwise`` and ``pointwise``).

Reads the parquet files under the input folder (``pairwise/train-*.parquet``, ``pointwise/train-*.parquet``);
whether a file is pairwise or pointwise is read from its folder name, as in the HF layout. Columns: ``id``,
``source``, ``conversations`` (human instruction, GPT-4o critique) and ``image`` (embedded bytes).

The dataset has no label column: labels are parsed out of the texts, and a row whose instruction, verdict,
score or scale cannot be read is reported and skipped, never guessed.

- The last human turn and the critique that answers it are used. The question and the response(s) are
  read from the instruction in one of the layouts below (the one shown on the LLaVA-Critic model card
  first); the rest of the instruction is dropped, the judge's own template replaces it at export.
- Pairwise verdict: the last verdict phrase of the critique, read with the judges' phrase parser
  ("Response 2 is better than Response 1", "the first response is better", "both responses are equally
  good" for a tie).
- Pointwise score: the last ``Final Score: N``, else the last ``[[N]]``, else the last "score/rating
  (is|of|:) N". The scale comes from the instruction ("out of 100", "from 1 to 10", "scale of 1-10"); when
  the instruction states none, an ``N/M`` or ``N out of M`` in the critique gives ``[0, M]``. A score
  outside its scale, or an instruction stating several scales, skips the row.
- The critique is kept whole as the rationale. Ids: ``llava_critic/<pair|point>/<id>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    Row,
    RowError,
    SourceError,
    find_files,
    image_bytes,
    need,
    parquet_rows,
)
from unireward.records import Record
from unireward.tasks import Form, Task
from unireward.templates import parse_verdict


_S = re.DOTALL
PAIR_LAYOUTS = [
    re.compile(r"Question:\s*(?P<q>.+?)\s*The first response:\s*(?P<a>.+?)\s*The second response:\s*(?P<b>.+?)"
               r"\s*(?:ASSISTANT:\s*)?$", _S),
    re.compile(r"\[Question\]\s*(?P<q>.+?)\s*\[Response 1\]\s*(?P<a>.+?)\s*\[Response 2\]\s*(?P<b>.+?)\s*$", _S),
]
POINT_LAYOUTS = [
    re.compile(r"Question:\s*(?P<q>.+?)\s*The LMM response:\s*(?P<a>.+?)\s*(?:ASSISTANT:\s*)?$", _S),
    re.compile(r"\[Question\]\s*(?P<q>.+?)\s*\[Response\]\s*(?P<a>.+?)\s*$", _S),
]
_NUM = r"(\d+(?:\.\d+)?)"
SCORE_PATTERNS = [
    re.compile(rf"Final\s+Score\s*:\s*\**\s*{_NUM}", re.I),
    re.compile(rf"\[\[\s*{_NUM}\s*\]\]"),
    re.compile(rf"\b(?:score|rating)\s*(?:is|of|:)\s*\**\s*{_NUM}", re.I),
]
SCALE_PATTERNS = [
    (re.compile(r"\bout of\s+(\d+)\b", re.I), lambda m: (0.0, float(m[1]))),
    (re.compile(r"\b(?:from|between)\s+(\d+)\s+(?:to|and)\s+(\d+)\b", re.I), lambda m: (float(m[1]), float(m[2]))),
    (re.compile(r"\bscale of\s+(\d+)\s*(?:-|to)\s*(\d+)\b", re.I), lambda m: (float(m[1]), float(m[2]))),
]


def _unbracket(s: str) -> str:
    s = s.strip()
    return s[1:-1].strip() if s.startswith("[") and s.endswith("]") else s


def _last_exchange(conv) -> tuple[str, str]:
    if not isinstance(conv, list):
        raise RowError(f"field 'conversations' must be a list, got {type(conv).__name__}")
    turns = [(t.get("from"), t.get("value")) for t in conv if isinstance(t, dict) and isinstance(t.get("value"), str)]
    for i in range(len(turns) - 1, 0, -1):
        if turns[i][0] == "gpt" and turns[i - 1][0] == "human" and turns[i][1] and turns[i - 1][1]:
            return turns[i - 1][1].replace("<image>", "").strip(), turns[i][1].strip()
    raise RowError("no human turn followed by a gpt critique in 'conversations'", kind="missing field")


def _layout(text: str, layouts: list[re.Pattern[str]], form: str) -> dict[str, str]:
    for pattern in layouts:
        m = pattern.search(text)
        if m:
            return {k: _unbracket(v) for k, v in m.groupdict().items()}
    raise RowError(f"unrecognised {form} instruction layout (no question/response markers): {text[:80]!r}...",
                   kind="unparseable instruction")


def _scale(instruction: str, critique: str) -> tuple[float, float] | None:
    found = {f(m) for pattern, f in SCALE_PATTERNS for m in pattern.finditer(instruction)}
    if len(found) > 1:
        raise RowError(f"the instruction states several scales {sorted(found)}", kind="unparseable score")
    if found:
        return found.pop()
    denominators = {float(m[2]) for m in re.finditer(rf"{_NUM}\s*(?:/|out of)\s*(\d+)", critique)}
    return (0.0, denominators.pop()) if len(denominators) == 1 else None


def _score(critique: str) -> float:
    for pattern in SCORE_PATTERNS:
        found = pattern.findall(critique)
        if found:
            return float(found[-1])
    raise RowError("no score found in the critique", kind="unparseable score")


class LLaVACritic(Adapter):
    name = "llava_critic"

    def rows(self, src: Path) -> Iterator[Row]:
        files = find_files(src, "**/*.parquet", "parquet")
        for f in files:
            self._form(f)  # fail before reading anything when a file's form is unknown
        return parquet_rows(src, ["id", "conversations", "image"], ["source"], files=files)

    @staticmethod
    def _form(path: Path) -> Form:
        for part in reversed(path.resolve().parent.parts):  # the nearest such folder decides
            if part.lower() in ("pairwise", "pointwise"):
                return Form.PAIR if part.lower() == "pairwise" else Form.POINT
        raise SourceError(f"{path}: cannot tell pairwise from pointwise data; keep the HF layout "
                          "(files under a 'pairwise' or a 'pointwise' folder)")

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d, form = row.data, self._form(row.file)
        instruction, critique = _last_exchange(need(d, "conversations"))
        sid = str(need(d, "id"))
        if form == Form.PAIR:
            parts = _layout(instruction, PAIR_LAYOUTS, "pairwise")
            verdict = parse_verdict(Task.IMAGE_UNDERSTANDING, critique)
            if verdict.winner is None:
                raise RowError(f"no verdict in the critique ({verdict.error})", kind="unparseable verdict")
            candidates, label = [{"text": parts["a"]}, {"text": parts["b"]}], {"winner": verdict.winner}
        else:
            parts = _layout(instruction, POINT_LAYOUTS, "pointwise")
            scale, score = _scale(instruction, critique), _score(critique)
            if scale is None:
                raise RowError("no score scale stated in the instruction or the critique", kind="unparseable score")
            if not scale[0] <= score <= scale[1]:
                raise RowError(f"score {score:g} outside the scale {scale}", kind="unparseable score")
            candidates, label = [{"text": parts["a"]}], {"score": score, "scale": list(scale)}
        image = media.image(image_bytes(d, "image"), "image")
        meta = {"source_id": sid, "origin": d.get("source")}
        return [Record(id=f"llava_critic/{form}/{sid}", source=self.name, task=Task.IMAGE_UNDERSTANDING, form=form,
                       prompt=parts["q"], media=[image], candidates=candidates, label=label, rationale=critique,
                       meta=meta)]
