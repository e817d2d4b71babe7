"""Request bodies of the reward server's routes (pydantic, strict, unknown fields refused).

Design choices a user will notice:
- ``task`` is one of the four task names. For generation tasks ``a``, ``b``, ``candidate`` and a group's
  ``candidates`` are media references (see `unireward.serve.media_refs`); for understanding tasks they are
  texts and ``media`` holds the shared image(s) or video.
- Types are strict (no coercion); an unknown field answers 400 naming it, so nothing asked for is ignored.
- OpenRLHF's ``/get_reward`` body keeps its documented keys (``query``, ``prompts``, ``labels``) and takes
  the media as extra keys of ours (``task``, ``images``/``videos``, ``responses``), one entry per query.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from unireward.tasks import Task


Ref = str | list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


TaskName = Literal["image_generation", "image_understanding", "video_generation", "video_understanding"]
assert set(TaskName.__args__) == {t.value for t in Task}  # type: ignore[attr-defined]


class CompareItem(_Strict):
    task: TaskName
    prompt: str = Field(min_length=1)
    a: Ref
    b: Ref
    media: Ref | None = None


class ScoreItem(_Strict):
    task: TaskName
    prompt: str = Field(min_length=1)
    candidate: Ref
    media: Ref | None = None


class CompareRequest(_Strict):
    items: list[CompareItem] = Field(min_length=1)


class ScoreRequest(_Strict):
    items: list[ScoreItem] = Field(min_length=1)


class GroupRequest(_Strict):
    """G candidates for one prompt: every pair is judged (both orders with ``both_orders``)."""

    task: TaskName
    prompt: str = Field(min_length=1)
    candidates: list[Ref] = Field(min_length=2)
    media: Ref | None = None
    both_orders: bool = False
    soft: bool = False  # count P(A wins) (logprob mode) instead of the hard verdict


class OpenRLHFRequest(_Strict):
    """OpenRLHF's remote reward payload, plus media references in extra keys (one per query)."""

    query: list[str] = Field(min_length=1)
    prompts: list[str] | None = None
    labels: list[Any] | None = None
    task: TaskName = "image_understanding"
    images: list[Ref | None] | None = None
    videos: list[Ref | None] | None = None
    responses: list[str] | None = None  # the completions alone; default: query with its prompt cut off

    @model_validator(mode="after")
    def _lengths(self) -> OpenRLHFRequest:
        n = len(self.query)
        for name in ("prompts", "labels", "images", "videos", "responses"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries but query has {n}; send one per query")
        return self
