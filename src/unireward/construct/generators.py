"""Generators: where the N candidates of each prompt come from.

A generator is named by a SPEC string, ``KIND:TARGET[?option=value&...]``:

- ``vlm:MODEL`` (a transformers VLM, hub id or folder): image/video understanding; N answers to each
  question by temperature sampling.
- ``diffusers:MODEL`` (a diffusers text-to-image pipeline: SD, SDXL, SDXL-Turbo ...): image generation;
  N images from N seeds.
- ``t2v:MODEL`` (a diffusers text-to-video pipeline): video generation; N videos from N seeds, as mp4.
- ``jsonl:FILE``: any task; candidates made elsewhere (see `ExistingCandidates`).

Design choices a user will notice:
- Every prompt has its own seed, derived from the run seed and the prompt id; candidate j of a diffusion
  generator uses seed s + j (as upstream: s..s+9). The same prompt gets the same candidates whatever else
  is in the run, so a resumed job regenerates exactly what the killed one would have.
- Batching is within a prompt (``batch_size`` samples per call): the batch a prompt's samples come from
  never depends on its neighbours, which keeps results identical across resumes.
- SDXL-Turbo (a target containing "turbo") defaults to 1 step and guidance 0, as upstream; a pipeline
  written by `unireward align diffusion` samples with the settings it records (aligned Turbo: 4 steps); other
  pipelines use their own defaults unless ``steps``/``guidance`` are given.
- VLM samples default to temperature 0.7 (upstream). A video prompt is sampled to ``num_frames`` frames
  and fed as a native video input (``video_as=video``) or as that many images (``video_as=frames``).
  Those two options are left out of an image sampler's identity: they change no image answer, so one spec
  shared by an image and a video run reuses the image run's cached samples.
- Generated media are written atomically as PNG (images) and H.264 mp4 (videos) under the run's media
  folder, one folder per prompt.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from unireward.construct.items import Candidate, PromptItem, text_hash
from unireward.media import content_hash, load_image, load_video, write_video
from unireward.tasks import Task


class GeneratorError(RuntimeError):
    """A generator could not produce candidates for a prompt (the message names the prompt)."""


def _bool(v: str) -> bool:
    if v.lower() in ("1", "true", "yes"):
        return True
    if v.lower() in ("0", "false", "no"):
        return False
    raise ValueError(f"not a boolean: {v!r}")


class Generator(ABC):
    """Produces the candidates of one prompt; `identity` names everything that changes its output."""

    kind: ClassVar[str]
    tasks: ClassVar[tuple[Task, ...]]
    OPTIONS: ClassVar[dict[str, Any]] = {}  # option name -> type (for parsing spec options)
    VIDEO_OPTIONS: ClassVar[tuple[str, ...]] = ()  # options that only change video samples

    def __init__(self, target: str, **options: Any):
        self.target = target
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))} for {self.kind} generators; "
                             f"valid options: {', '.join(self.OPTIONS)}")
        self.options = options

    def identity(self) -> str:
        return _identity(self.kind, self.target, self.options)

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}"

    @abstractmethod
    def generate(self, item: PromptItem, n: int, seed: int, media_dir: Path) -> list[Candidate]:
        """N candidates for one prompt (media written under `media_dir`)."""

    def opt(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value is None else value


# ---------------------------------------------------------------------- helpers
def _identity(kind: str, target: str, options: dict[str, Any]) -> str:
    """Everything that changes the samples (the VLM sampler seeds each call, so batch_size counts too)."""
    opts = {k: v for k, v in sorted(options.items()) if k != "device"}
    return f"{kind}:{target}?{json.dumps(opts, sort_keys=True)}"


def _device(name: str | None) -> str:
    import torch

    return name or ("cuda" if torch.cuda.is_available() else "cpu")


def _torch_dtype(name: str | None, device: str):
    import torch

    if name in (None, "auto"):
        return torch.float16 if device.startswith("cuda") else torch.float32
    if not hasattr(torch, name):
        raise ValueError(f"unknown dtype {name!r}")
    return getattr(torch, name)


def _atomic_save(path: Path, write) -> None:
    """Write through a temporary name, then rename: a killed job never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def _chunks(n: int, size: int) -> list[range]:
    size = max(1, size)
    return [range(s, min(n, s + size)) for s in range(0, n, size)]


# ---------------------------------------------------------------------- VLM sampler
class VLMSampler(Generator):
    """N answers per question from a transformers VLM, by temperature sampling."""

    kind, tasks = "vlm", (Task.IMAGE_UNDERSTANDING, Task.VIDEO_UNDERSTANDING)
    OPTIONS = {"temperature": float, "top_p": float, "max_new_tokens": int, "batch_size": int, "num_frames": int,
               "max_pixels": int, "video_as": str, "device": str, "dtype": str}
    VIDEO_OPTIONS = ("num_frames", "video_as")

    def __init__(self, target: str, **options: Any):
        super().__init__(target, **options)
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        from unireward.judges.arch import get_arch

        if self.opt("video_as", "video") not in ("video", "frames"):
            raise ValueError(f"video_as must be 'video' or 'frames', got {self.opt('video_as')!r}")
        self.device = _device(self.opt("device"))
        self.arch = get_arch(AutoConfig.from_pretrained(target).model_type)
        self.processor = AutoProcessor.from_pretrained(target)
        dtype = self.opt("dtype", "auto")
        self.model = AutoModelForImageTextToText.from_pretrained(target, dtype=dtype if dtype == "auto" else
                                                                 _torch_dtype(dtype, self.device))
        self.model.to(self.device).eval()

    def _inputs(self, item: PromptItem):
        if item.media is None:
            raise GeneratorError(f"prompt {item.id!r}: understanding tasks need the shared image or video")
        max_pixels = self.opt("max_pixels", 512 * 512)
        content: list[dict[str, Any]] = []
        kw: dict[str, Any] = {}
        if Path(item.media).suffix.lower() in (".mp4", ".webm", ".avi", ".mov", ".mkv", ".gif"):
            frames = load_video(item.media, self.opt("num_frames", 8), max_pixels)
            if self.opt("video_as", "video") == "video":
                content, kw = [{"type": "video"}], {"videos": [frames]}
            else:
                content, kw = [{"type": "image"} for _ in frames], {"images": frames}
        else:
            content, kw = [{"type": "image"}], {"images": [load_image(item.media, max_pixels)]}
        if "images" in kw and self.arch.nested_images:
            kw["images"] = [kw["images"]]
        msgs = [{"role": "user", "content": content + [{"type": "text", "text": item.prompt}]}]
        if self.arch.system_prompt:
            msgs.insert(0, {"role": "system", "content": [{"type": "text", "text": self.arch.system_prompt}]})
        text = self.processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        return self.processor(text=[text], return_tensors="pt", **kw).to(self.device)

    def generate(self, item: PromptItem, n: int, seed: int, media_dir: Path) -> list[Candidate]:
        import torch

        inputs = self._inputs(item)
        temperature = self.opt("temperature", 0.7)
        gen_kw = dict(do_sample=temperature > 0, max_new_tokens=self.opt("max_new_tokens", 512))
        if temperature > 0:
            gen_kw.update(temperature=temperature, top_p=self.opt("top_p", 1.0))
        texts: list[str] = []
        start = inputs["input_ids"].shape[1]
        for k, chunk in enumerate(_chunks(n, self.opt("batch_size", n))):
            torch.manual_seed(seed + k)  # one seed per call: same samples whatever ran before
            with torch.no_grad():
                out = self.model.generate(**inputs, num_return_sequences=len(chunk), **gen_kw)
            texts += self.processor.batch_decode(out[:, start:], skip_special_tokens=True)
        return [Candidate(j, text=t.strip(), hash=text_hash(t.strip()), seed=seed) for j, t in enumerate(texts)]


# ---------------------------------------------------------------------- diffusion samplers
class _DiffusersBase(Generator):
    def __init__(self, target: str, **options: Any):
        super().__init__(target, **options)
        self.device = _device(self.opt("device"))
        self.pipe = load_pipeline(target, dtype=_torch_dtype(self.opt("dtype"), self.device))
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)

    def _call_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        turbo = "turbo" in self.target.lower()
        aligned = recorded_inference(self.target)  # a pipeline from `unireward align diffusion` says how it samples
        steps = self.opt("steps", aligned.get("num_inference_steps", 1 if turbo else None))
        guidance = self.opt("guidance", aligned.get("guidance_scale", 0.0 if turbo else None))
        if steps is not None:
            kw["num_inference_steps"] = steps
        if guidance is not None:
            kw["guidance_scale"] = guidance
        if "max_sequence_length" in aligned:  # an SD3 generator without T5: its short zero-token padding
            kw["max_sequence_length"] = aligned["max_sequence_length"]
        for name in ("height", "width", "negative_prompt"):
            if self.opt(name) is not None:
                kw[name] = self.opt(name)
        return kw

    def _generators(self, seeds: range):
        import torch

        # CPU generators give the same noise on every device (upstream seeds s..s+9 likewise)
        return [torch.Generator("cpu").manual_seed(s) for s in seeds]


def load_pipeline(target: str | Path, **kwargs: Any):
    """`DiffusionPipeline.from_pretrained`, also for a folder saved with a required component left out
    (``[null, null]`` in model_index.json), such as SD3 without its T5 encoder: diffusers loads those only when
    they are passed as None, so they are."""
    from diffusers import DiffusionPipeline

    index = Path(target) / "model_index.json"
    if index.is_file():
        left_out = {k: None for k, v in json.loads(index.read_text(encoding="utf-8")).items() if v == [None, None]}
        kwargs = {**left_out, **kwargs}
    return DiffusionPipeline.from_pretrained(target, **kwargs)


def recorded_inference(target: str) -> dict[str, Any]:
    """The sampling settings a pipeline folder records in `unireward_align.json` ``inference``, or {}: a small
    generator's (`unireward train generator`), passed on to what `unireward align diffusion` makes from it, or
    an aligned SDXL-Turbo's 4 steps and guidance 0 (upstream's post-DPO settings)."""
    meta = Path(target) / "unireward_align.json"
    if not meta.is_file():
        return {}
    return json.loads(meta.read_text(encoding="utf-8")).get("inference") or {}


def recorded_text_tokens(target: str) -> int:
    """SD3's ``max_sequence_length`` for a pipeline folder: what a small generator without T5 records (its zero
    padding tokens), else the pipeline's default of 256."""
    return int(recorded_inference(target).get("max_sequence_length", 256))


class DiffusionSampler(_DiffusersBase):
    """N images per caption from a diffusers text-to-image pipeline, candidate j from seed s + j."""

    kind, tasks = "diffusers", (Task.IMAGE_GENERATION,)
    OPTIONS = {"steps": int, "guidance": float, "height": int, "width": int, "negative_prompt": str,
               "batch_size": int, "device": str, "dtype": str}

    def generate(self, item: PromptItem, n: int, seed: int, media_dir: Path) -> list[Candidate]:
        out: list[Candidate] = []
        for chunk in _chunks(n, self.opt("batch_size", 4)):
            seeds = range(seed + chunk.start, seed + chunk.stop)
            images = self.pipe(prompt=[item.prompt] * len(chunk), generator=self._generators(seeds),
                               **self._call_kwargs()).images
            for j, s, img in zip(chunk, seeds, images):
                path = media_dir / f"{j}.png"
                _atomic_save(path, lambda p, img=img: img.save(p, format="PNG"))
                out.append(Candidate(j, path=str(path.resolve()), hash=content_hash(path), seed=s))
        return out


class VideoDiffusionSampler(_DiffusersBase):
    """N videos per caption from a diffusers text-to-video pipeline (TextToVideoSD, AnimateDiff, Wan ...)."""

    kind, tasks = "t2v", (Task.VIDEO_GENERATION,)
    OPTIONS = {"steps": int, "guidance": float, "height": int, "width": int, "negative_prompt": str,
               "num_frames": int, "fps": int, "batch_size": int, "device": str, "dtype": str}

    def generate(self, item: PromptItem, n: int, seed: int, media_dir: Path) -> list[Candidate]:
        import numpy as np

        out: list[Candidate] = []
        kw = {**self._call_kwargs(), "num_frames": self.opt("num_frames", 16), "output_type": "np"}
        for chunk in _chunks(n, self.opt("batch_size", 2)):
            seeds = range(seed + chunk.start, seed + chunk.stop)
            videos = self.pipe(prompt=[item.prompt] * len(chunk), generator=self._generators(seeds), **kw).frames
            for j, s, video in zip(chunk, seeds, videos):
                frames = [np.asarray(f) for f in video] if isinstance(video, list) else list(np.asarray(video))
                frames = [(np.clip(f, 0, 1) * 255).round().astype(np.uint8) if f.dtype != np.uint8 else f
                          for f in frames]
                path = media_dir / f"{j}.mp4"
                _atomic_save(path, lambda p, fr=frames: write_video(p, fr, fps=self.opt("fps", 8)))
                out.append(Candidate(j, path=str(path.resolve()), hash=content_hash(path), seed=s))
        return out


# ---------------------------------------------------------------------- existing candidates
class ExistingCandidates(Generator):
    """Candidates made elsewhere, read from a JSONL file.

    Each line: ``{"id": ..., "prompt": ..., "candidates": [...]}``; a candidate is an answer text, a media
    path (relative to the file's folder), or ``{"text": ...}`` / ``{"image": path}`` / ``{"video": path}``.
    Lines are matched to prompts by ``id``, else by prompt text. The first N candidates are used; a prompt
    with fewer uses all it has (the row records how many).
    """

    kind, tasks = "jsonl", tuple(Task)
    OPTIONS: ClassVar[dict[str, Any]] = {}

    def __init__(self, target: str, task: Task | str | None = None, **options: Any):
        super().__init__(target, **options)
        path = Path(target)
        if not path.is_file():
            raise FileNotFoundError(f"candidates file not found: {path}")
        self.task = Task.parse(task) if task else None
        self.base = path.parent
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]  # a changed file is a new generator
        self.by_id: dict[str, list] = {}
        self.by_prompt: dict[str, list] = {}
        self.errors: list[str] = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                self._index(line, lineno, path.name)

    def _index(self, line: str, lineno: int, name: str) -> None:
        try:
            raw = json.loads(line)
            cands = raw["candidates"]
            if not isinstance(cands, list):
                raise TypeError("'candidates' must be a list")
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            self.errors.append(f"{name} line {lineno}: {type(e).__name__}: {e}")
            return
        if "id" in raw:
            self.by_id[str(raw["id"])] = cands
        prompt = next((raw[k] for k in ("prompt", "caption", "question") if k in raw), None)
        if isinstance(prompt, str):
            self.by_prompt.setdefault(prompt, cands)

    def identity(self) -> str:
        return f"jsonl:{Path(self.target).resolve()}@{self.digest}"

    def generate(self, item: PromptItem, n: int, seed: int, media_dir: Path) -> list[Candidate]:
        raw = self.by_id.get(item.id, self.by_prompt.get(item.prompt))
        if raw is None:
            raise GeneratorError(f"prompt {item.id!r}: no candidates in {self.target}")
        return [self._candidate(j, c, item) for j, c in enumerate(raw[:n])]

    def _candidate(self, j: int, c: Any, item: PromptItem) -> Candidate:
        text_task = self.task is not None and not self.task.is_generation
        if isinstance(c, dict):
            if "text" in c:
                return Candidate(j, text=str(c["text"]), hash=text_hash(str(c["text"])))
            c = c.get("image", c.get("video", c.get("path")))
        if not isinstance(c, str):
            raise GeneratorError(f"prompt {item.id!r}: candidate {j} is neither a text nor a path: {c!r}")
        if text_task:
            return Candidate(j, text=c, hash=text_hash(c))
        path = Path(c) if Path(c).is_absolute() else self.base / c
        if not path.is_file():
            raise GeneratorError(f"prompt {item.id!r}: candidate {j} file not found: {path}")
        return Candidate(j, path=str(path.resolve()), hash=content_hash(path))


# ---------------------------------------------------------------------- the SPEC string
KINDS: dict[str, type[Generator]] = {"vlm": VLMSampler, "diffusers": DiffusionSampler, "t2v": VideoDiffusionSampler,
                                     "jsonl": ExistingCandidates}


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``KIND:TARGET[?k=v&k=v]`` -> (kind, target, raw options)."""
    kinds = ", ".join(f"{k}:" for k in KINDS)
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in KINDS or not rest:
        raise ValueError(f"bad generator spec {spec!r}: expected KIND:TARGET[?option=value&...] with KIND one "
                         f"of {kinds} (e.g. diffusers:stabilityai/sdxl-turbo, vlm:PATH, t2v:PATH, jsonl:FILE)")
    target, _, query = rest.partition("?")
    options: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"bad option {part!r} in generator spec {spec!r}: expected key=value")
        options[key] = value
    return kind, target, options


def _options(cls: type[Generator], spec: str, raw: dict[str, str], overrides: dict[str, Any]) -> dict[str, Any]:
    """Typed options: the spec's, then `overrides` for options the spec does not set."""
    options = {k: v for k, v in overrides.items() if v is not None and k in cls.OPTIONS}
    for key, value in raw.items():
        if key not in cls.OPTIONS:
            raise ValueError(f"unknown option {key!r} for {cls.kind} generators; valid options: "
                             f"{', '.join(cls.OPTIONS) or 'none'}")
        typ = cls.OPTIONS[key]
        try:
            options[key] = _bool(value) if typ is bool else typ(value)
        except ValueError:
            raise ValueError(f"option {key}={value!r} of generator spec {spec!r} is not a {typ.__name__}") from None
    return options


def _resolve(spec: str, task: Task, overrides: dict[str, Any]) -> tuple[type[Generator], str, dict[str, Any]]:
    kind, target, raw = parse_spec(spec)
    cls = KINDS[kind]
    if task not in cls.tasks:
        fits = ", ".join(k for k, c in KINDS.items() if task in c.tasks)
        raise ValueError(f"a {kind} generator cannot make candidates for {task}; use one of: {fits}")
    options = _options(cls, spec, raw, overrides)
    if task.modality == "image":
        # an image sampler given video settings samples the same answers: the identity (and so the cached
        # candidates) must not change with them, or one spec shared by an image and a video run resamples both
        options = {k: v for k, v in options.items() if k not in cls.VIDEO_OPTIONS}
    return cls, target, options


def load_generator(spec: str, task: Task | str, **overrides: Any) -> Generator:
    """A generator from its SPEC; `overrides` (e.g. device, dtype) fill options the spec does not set."""
    cls, target, options = _resolve(spec, Task.parse(task), overrides)
    if cls is ExistingCandidates:
        return ExistingCandidates(target, task=task, **options)
    return cls(target, **options)


def generator_identity(spec: str, task: Task | str, **overrides: Any) -> str:
    """`Generator.identity()` of the generator a SPEC names, without loading its model."""
    cls, target, options = _resolve(spec, Task.parse(task), overrides)
    if cls is ExistingCandidates:
        return ExistingCandidates(target, task=task).identity()
    return _identity(cls.kind, target, options)
