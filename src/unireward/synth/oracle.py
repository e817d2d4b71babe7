"""The oracle: an exact judge of the synthetic world, for rendered media and for arbitrary pixels.

It reads a scene or clip from pixels (`perceive`), parses the caption or question (`grammar`), and applies
the same definitions the dataset labels come from (`semantics`). It speaks the `Judge` interface
(`compare`, `score`, `compare_batch`, `score_batch` with the same arguments), so it can stand in for a
trained judge anywhere: as the perfect reference in benchmarks, or to judge a generator's outputs exactly.

Media may be anything `unireward.media` loads (paths, bytes, PIL images, arrays; a video file or a list
of frames), or symbolic `Scene` / `Clip` values. Videos are read as `num_frames` uniformly sampled frames,
as the judge sees them, and motion is measured between those frames. A caption or question outside the
grammar raises `GrammarError` in the direct methods; the Judge-style methods return a verdict or score
with `None` and the error instead, and a batch keeps going.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from unireward.media import load_image, load_video
from unireward.records import Record
from unireward.synth import perceive
from unireward.synth.grammar import Question, parse_caption, parse_question
from unireward.synth.semantics import (
    UNDERSTANDING_SCALES,
    VideoScore,
    answer_image,
    answer_video,
    grade,
    image_elements,
    image_generation_score,
    understanding_score,
    video_score,
    winner,
)
from unireward.synth.world import Clip, Scene, clip_facts
from unireward.tasks import Form, Score, Task, Verdict, normalize


class Oracle:
    """Exact scores and verdicts for captions, questions and answers of the synthetic world."""

    name = "synth-oracle"

    def __init__(self, num_frames: int = 8):
        self.num_frames = num_frames

    # ----- perception -----
    def parse_image(self, image: Any) -> Scene:
        """The scene in an image (a `Scene` is returned as it is)."""
        if isinstance(image, Scene):
            return image
        return perceive.parse_image(load_image(image))

    def parse_video(self, video: Any) -> Clip:
        """The tracks and per-frame brightness of a video (a `Clip` is returned as it is)."""
        if isinstance(video, Clip):
            return video
        return perceive.parse_frames(load_video(video, num_frames=self.num_frames))

    # ----- generation -----
    def score_image(self, caption: str, image: Any) -> tuple[float, dict[str, int]]:
        """(fraction of caption elements the image satisfies, EvalMuse-style 0/1 element labels)."""
        el = image_elements(parse_caption(caption), self.parse_image(image))
        return sum(el.values()) / len(el), el

    def score_video(self, caption: str, video: Any) -> VideoScore:
        """The five VideoFeedback dims (1-4), the overall score (1-10) and the element labels."""
        return video_score(parse_caption(caption), clip_facts(self.parse_video(video)))

    # ----- understanding -----
    def _truth(self, q: Question, media: Any) -> str:
        if q.modality == "image":
            return answer_image(q, self.parse_image(media))
        return answer_video(q, clip_facts(self.parse_video(media)))

    def answer(self, question: str, media: Any) -> str:
        """The canonical true answer to a question about an image or a video."""
        return self._truth(parse_question(question), media)

    def score_answer(self, question: str, answer: str, media: Any) -> float:
        """How good an answer is, on the native scale: 0-100 for image questions, 1-5 for video questions."""
        q = parse_question(question)
        return understanding_score(q.modality, grade(q.kind, self._truth(q, media), answer))

    # ----- the Judge interface -----
    def _value(self, task: Task, prompt: str, candidate: Any, media: Any) -> Score:
        if task == Task.IMAGE_GENERATION:
            _, el = self.score_image(prompt, candidate)
            value, scale, dims = image_generation_score(el), (1.0, 5.0), {}
        elif task == Task.VIDEO_GENERATION:
            vs = self.score_video(prompt, candidate)
            value, scale, dims, el = vs.score, (1.0, 10.0), dict(vs.dims), vs.elements
        else:
            q = parse_question(prompt)
            if q.modality != task.modality:
                raise ValueError(f"question {prompt!r} is about a {q.modality}, not for {task}")
            value = self.score_answer(prompt, candidate, _single(media) if q.modality == "image" else media)
            scale, dims, el = tuple(float(x) for x in UNDERSTANDING_SCALES[q.modality]), {}, {}
        return Score(value, scale=scale, dims=dims, normalized=normalize(value, scale), text=f"Final Score: {value}",
                     elements=el)

    def score(self, task: Task | str, prompt: str, candidate: Any, media: Any = None) -> Score:
        return self.score_batch([{"task": task, "prompt": prompt, "candidate": candidate, "media": media}])[0]

    def compare(self, task: Task | str, prompt: str, a: Any, b: Any, media: Any = None) -> Verdict:
        return self.compare_batch([{"task": task, "prompt": prompt, "a": a, "b": b, "media": media}])[0]

    def score_batch(self, items: Iterable[dict[str, Any]]) -> list[Score]:
        out = []
        for item in items:
            try:
                out.append(self._value(Task.parse(item["task"]), item["prompt"], item["candidate"],
                                       item.get("media")))
            except Exception as e:  # per-item failure: reported, the batch goes on
                out.append(Score(None, error=f"{type(e).__name__}: {e}"))
        return out

    def compare_batch(self, items: Iterable[dict[str, Any]]) -> list[Verdict]:
        out = []
        for item in items:
            try:
                task = Task.parse(item["task"])
                sa = self._value(task, item["prompt"], item["a"], item.get("media")).value
                sb = self._value(task, item["prompt"], item["b"], item.get("media")).value
                w = winner(sa, sb)
                out.append(Verdict(w, prob_a={"A": 1.0, "B": 0.0, "tie": 0.5}[w], text=f"scores {sa} vs {sb}"))
            except Exception as e:
                out.append(Verdict(None, error=f"{type(e).__name__}: {e}"))
        return out

    def label(self, record: Record, base: str | Path = ".") -> dict[str, Any]:
        """The exact label of a unified record (media resolved against `base`, the JSONL's folder)."""
        kw = record.judge_inputs(base)
        task = record.task
        if record.form == Form.PAIR:
            v = self.compare(task, kw["prompt"], kw["a"], kw["b"], kw.get("media"))
            if v.winner is None:
                raise ValueError(f"record {record.id!r}: {v.error}")
            return {"winner": v.winner}
        s = self.score(task, kw["prompt"], kw["candidate"], kw.get("media"))
        if s.value is None:
            raise ValueError(f"record {record.id!r}: {s.error}")
        label: dict[str, Any] = {"score": s.value, "scale": [_num(x) for x in s.scale]}
        if task == Task.VIDEO_GENERATION:
            label["dims"] = s.dims
        if task.is_generation:
            label["elements"] = s.elements
        return label


def _single(media: Any) -> Any:
    """An image given as a one-item list (the shape `Record.judge_inputs` may use) as the image itself."""
    return media[0] if isinstance(media, list) and len(media) == 1 else media


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x
