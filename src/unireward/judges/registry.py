"""Judge presets (data: presets.toml) and `load_judge`, the one factory for every backend.

`load_judge(spec)` accepts, in this order:
- ``openai://HOST:PORT/MODEL`` (or ``openai+https://HOST/MODEL``): a served model, `openai` backend;
- a local folder: a transformers checkpoint, `hf` backend (a `unireward.json` written by our trainer sets
  the family);
- a preset name (case-insensitive, e.g. ``UnifiedReward-qwen-7b``) or a preset's hub id: `hf` backend with
  the preset's family;
- any other hub id ``org/name``: `hf` backend with the architecture's default family.
A bare name that is none of these raises an error listing the presets.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from unireward.judges.base import Judge
from unireward.judges.config import JudgeConfig, split_options
from unireward.templates.files import is_template_file


@dataclass(frozen=True)
class Preset:
    name: str
    hub_id: str
    arch: str
    family: str
    note: str = ""


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
        family = _folder_family(Path(spec))
        return _hf(spec, _with_family(cfg, family), backend)
    preset = get_preset(spec)
    if preset is not None:
        return _hf(preset.hub_id, _with_family(cfg, preset.family), backend)
    if "/" in spec:
        return _hf(spec, cfg, backend)
    names = ", ".join(p.name for p in list_presets())
    raise ValueError(f"unknown judge {spec!r}: not a folder, a hub id (org/name), openai://HOST:PORT/MODEL, "
                     f"or a preset. Presets: {names}")


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
