"""`JudgeConfig`: every option of a judge in one validated value, shared by the library, the CLIs and Ray.

`load_judge(spec, config)` takes one; loose keyword arguments (`load_judge(spec, mode="logprob")`) are
folded into it, so both spellings mean the same thing. The `judge`, `bench` and `construct` commands build
it with one helper (`unireward.judges.options`), and the Ray engine ships it to its actors as is (a frozen,
picklable dataclass), so a mode, family or limit is spelled and checked in exactly one place.

Design choices a user will notice:
- ``family=None`` and ``batch_size=None`` mean "the model's": the preset's prompt family (or the
  architecture's default), and the backend's batch size (hf 8, openai 64).
- Bad values fail when the config is built, naming the field and the valid values; ``batch_size=0`` is
  an error, never a run that judges nothing.
- Backend-only options (an API key, a processor override) are not here: they are keyword arguments of
  the backend class and of `load_judge`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from unireward.media import DEFAULT_FRAMES


MODES = ("generate", "logprob", "reason-logprob")
VIDEO_AS = ("frames", "video")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEFAULT_MAX_PIXELS = 512 * 512  # the released checkpoints were trained at <= 512x512 per image/frame


@dataclass(frozen=True)
class JudgeConfig:
    """How a judge decodes, batches and reads media.

    mode: ``generate`` (free text, then parse, as upstream), ``logprob`` (one forward pass: the answer's
        options read right after the prompt) or ``reason-logprob`` (generate the reasoning, then read the
        options in one forward pass where the answer starts: margins for reasoning judges).
    family: prompt family name or a template file (None: the model's).
    swap: judge both orders of every pair and combine them.
    batch_size: items per model call (None: the backend's default).
    max_new_tokens: generation budget (None: the template's).
    num_frames: frames sampled per video (a template may fix its own count).
    max_pixels: pixel budget per image or frame (None: no resizing).
    max_prompt_tokens: longest prompt accepted, in tokens (None: the model's context minus the answer).
    video_as: ``frames`` (as the released checkpoints were trained) or ``video`` (native video inputs).
    point_scale: ask pointwise templates for another overall scale, e.g. (1, 10) for the DPO sift.
    device, dtype: where and in which precision an in-process model runs (ignored by served models).
    """

    mode: str = "generate"
    family: str | None = None
    swap: bool = False
    batch_size: int | None = None
    max_new_tokens: int | None = None
    num_frames: int = DEFAULT_FRAMES
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_prompt_tokens: int | None = None
    video_as: str = "frames"
    point_scale: tuple[float, float] | None = None
    device: str | None = None
    dtype: str = "auto"

    def __post_init__(self) -> None:
        _one_of("mode", self.mode, MODES)
        _one_of("video_as", self.video_as, VIDEO_AS)
        _one_of("dtype", self.dtype, DTYPES)
        for name in ("batch_size", "max_new_tokens", "num_frames", "max_pixels", "max_prompt_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"JudgeConfig.{name} must be a positive integer or None, got {value!r}")
        if self.point_scale is not None:
            lo, hi = (float(x) for x in self.point_scale)
            if not lo < hi:
                raise ValueError(f"JudgeConfig.point_scale must be (low, high), low < high; got {self.point_scale}")
            object.__setattr__(self, "point_scale", (lo, hi))

    def merged(self, **overrides: Any) -> JudgeConfig:
        """A copy with `overrides` applied; unknown names raise an error listing the valid ones.

        None leaves a field that cannot be None (mode, dtype, ...) as it is, so CLI options left unset
        (None) never clobber a value; fields where None means something (family, max_pixels) take it."""
        unknown = sorted(set(overrides) - FIELD_NAMES)
        if unknown:
            raise TypeError(f"unknown judge option(s) {unknown}; valid: {', '.join(sorted(FIELD_NAMES))}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None or k in _NULLABLE})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELD_NAMES = frozenset(f.name for f in fields(JudgeConfig))
_NULLABLE = frozenset(f.name for f in fields(JudgeConfig) if f.default is None)


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate `JudgeConfig` fields from backend-only keyword arguments."""
    ours = {k: v for k, v in options.items() if k in FIELD_NAMES}
    return ours, {k: v for k, v in options.items() if k not in FIELD_NAMES}


def _one_of(name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
