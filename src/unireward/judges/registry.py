"""Judge presets (data: presets.toml) and `load_judge`, the one factory for every backend.

`load_judge(spec)` accepts, in this order:
- ``openai://HOST:PORT/MODEL`` (or ``openai+https://HOST/MODEL``): a served model, `openai` backend;
- a local folder: a transformers checkpoint, `hf` backend (a `unireward.json` written by our trainer sets
  the family; one that says ``{"zoo": NAME}`` holds a zoo entry's weights and loads that entry from it);
- a preset name (case-insensitive, e.g. ``UnifiedReward-qwen-7b``) or a preset's hub id: `hf` backend with
  the preset's family;
- any other hub id ``org/name``: `hf` backend with the architecture's default family.
A bare name that is none of these raises an error listing the presets.

Presets are data (``presets.toml``), of three kinds: ``vlm`` (a generative VLM judge on the `hf` backend, our
prompt families), ``scorer`` (a reward model that gives numbers: the baseline zoo, `unireward.judges.zoo`),
and ``vlm`` entries stored in the original LLaVA-NeXT layout (``layout = "llava_next"``: UnifiedReward-7b,
-7b-v1.5, LLaVA-Critic), which are converted to transformers' LLaVA-OneVision layout on first load and cached
(`unireward.judges.llava_next`). Every preset lists its tasks, forms, licence and size for `unireward models`.
Backend keyword arguments of the zoo: ``source=`` (a local folder for the entry's weights) and
``trust_remote_code=`` (entries that run their authors' code).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from unireward.judges.base import Judge
from unireward.judges.config import JudgeConfig, split_options
from unireward.templates.files import is_template_file


ALL_TASKS = ("image_generation", "image_understanding", "video_generation", "video_understanding")
KINDS = ("vlm", "scorer")


@dataclass(frozen=True)
class Preset:
    """One named judge. ``vlm`` presets use `arch`/`family`; ``scorer`` presets use `backend`, its `options`
    and the score rule (`scale`, `normalize`, `aggregate`, `temperature`, `tie_margin`)."""

    name: str
    hub_id: str
    kind: str = "vlm"
    arch: str = ""
    family: str = ""
    note: str = ""
    tasks: tuple[str, ...] = ALL_TASKS
    forms: tuple[str, ...] = ("pair", "point")
    license: str = ""
    size: str = ""
    layout: str = "hf"
    remote_code: bool = False
    backend: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    scale: tuple[float, float] = (0.0, 1.0)
    normalize: str = "linear"
    aggregate: str = "first"
    temperature: float = 1.0
    tie_margin: float = 0.0
    published: dict[str, str] = field(default_factory=dict)
    tested: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"preset {self.name}: unknown kind {self.kind!r}; valid: {', '.join(KINDS)}")
        for name in ("tasks", "forms", "scale"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@cache
def _presets() -> dict[str, Preset]:
    data = tomllib.loads((Path(__file__).parent / "presets.toml").read_text())
    return {name.lower(): Preset(name=name, **fields) for name, fields in data.items()}


def list_presets() -> list[Preset]:
    return list(_presets().values())


def get_preset(name: str) -> Preset | None:
    key = name.lower()
    if key in _presets():
        return _presets()[key]
    return next((p for p in _presets().values() if p.hub_id.lower() == key), None)


def load_judge(spec: str | Path, config: JudgeConfig | None = None, **options: Any) -> Judge:
    """Load a judge. `config` holds the judge options; keyword `options` override its fields (mode=...,
    family=...), and the rest go to the backend (api_key=..., concurrency=..., processor_kwargs=...)."""
    spec = str(spec)
    fields, backend = split_options(options)
    cfg = (config or JudgeConfig()).merged(**fields)
    if spec.startswith(("openai://", "openai+http://", "openai+https://")):
        from unireward.judges.openai import OpenAIJudge

        base_url, model = _parse_openai(spec)
        preset = get_preset(model)
        return OpenAIJudge(base_url=base_url, model=model, config=_with_family(cfg, preset and preset.family),
                           **backend)
    if Path(spec).is_dir():
        entry = _folder_zoo_entry(Path(spec))
        if entry is not None:  # a local copy of a zoo entry's weights, in that entry's layout
            return _from_preset(entry, cfg, {**backend, "source": spec})
        family = _folder_family(Path(spec))
        return _hf(spec, _with_family(cfg, family), backend)
    preset = get_preset(spec)
    if preset is not None:
        return _from_preset(preset, cfg, backend)
    if "/" in spec:
        return _hf(spec, cfg, backend)
    names = ", ".join(p.name for p in list_presets())
    raise ValueError(f"unknown judge {spec!r}: not a folder, a hub id (org/name), openai://HOST:PORT/MODEL, "
                     f"or a preset. Presets: {names}")


def _from_preset(preset: Preset, cfg: JudgeConfig, backend: dict[str, Any]) -> Judge:
    """A preset's judge: the zoo factory for scorers; the hf backend for VLMs (converted first when the
    checkpoint is in the LLaVA-NeXT layout)."""
    if preset.kind == "scorer":
        from unireward.judges.zoo import load_scorer

        return load_scorer(preset, cfg, **backend)
    source = backend.pop("source", None)
    path = source or preset.hub_id
    if preset.layout == "llava_next":
        from unireward.judges.llava_next import converted_checkpoint

        path = str(converted_checkpoint(path))
    return _hf(path, _with_family(cfg, preset.family), backend)


def _folder_zoo_entry(folder: Path) -> Preset | None:
    """The zoo entry a folder's `unireward.json` names (``{"zoo": "PickScore"}``), if any."""
    meta = folder / "unireward.json"
    name = json.loads(meta.read_text()).get("zoo") if meta.is_file() else None
    if name is None:
        return None
    preset = get_preset(name)
    if preset is None:
        raise ValueError(f"{meta}: unknown zoo entry {name!r}; valid: {', '.join(p.name for p in list_presets())}")
    return preset


def _folder_family(folder: Path) -> str | None:
    """The family a trained judge records in its `unireward.json`; a template file named there is read
    relative to the folder, so a judge can ship the exact prompts it was trained on."""
    meta = folder / "unireward.json"
    family = json.loads(meta.read_text()).get("family") if meta.is_file() else None
    if family and is_template_file(family) and not Path(family).is_absolute():
        family = str(folder / family)
    return family


def _with_family(cfg: JudgeConfig, family: str | None) -> JudgeConfig:
    """The model's own family applies unless the caller chose one."""
    return cfg if cfg.family or not family else cfg.merged(family=family)


def _hf(path: str, cfg: JudgeConfig, backend: dict[str, Any]) -> Judge:
    from unireward.judges.hf import HFJudge

    try:
        return HFJudge(path, config=cfg, **backend)
    except OSError as e:  # not on disk, not in the cache, or no network: say which and what to do
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
        hint = (f"HF_HUB_OFFLINE is set and {path!r} is not in the local cache: download it first "
                f"(`hf download {path}`) or pass a local folder" if offline and not Path(path).exists()
                else "check the model id or folder")
        raise ValueError(f"cannot load judge {path!r}: {hint} ({type(e).__name__}: {str(e).splitlines()[0]})") \
            from None


def _parse_openai(spec: str) -> tuple[str, str]:
    scheme, rest = spec.split("://", 1)
    http = "https" if scheme.endswith("https") else "http"
    host, _, model = rest.partition("/")
    if not host or not model:
        raise ValueError(f"expected openai://HOST:PORT/MODEL, got {spec!r}")
    return f"{http}://{host}/v1", model
