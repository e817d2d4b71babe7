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
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from unireward.judges.base import Judge


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


def load_judge(spec: str | Path, **kwargs: Any) -> Judge:
    """Load a judge; keyword arguments go to the backend (mode, swap, batch_size, family, device, dtype, ...)."""
    spec = str(spec)
    if spec.startswith(("openai://", "openai+http://", "openai+https://")):
        from unireward.judges.openai import OpenAIJudge

        base_url, model = _parse_openai(spec)
        preset = get_preset(model)
        kwargs.setdefault("family", preset.family if preset else "v1")
        return OpenAIJudge(base_url=base_url, model=model, **kwargs)
    from unireward.judges.hf import HFJudge

    if Path(spec).is_dir():
        meta = Path(spec) / "unireward.json"
        if meta.is_file() and "family" not in kwargs:
            kwargs["family"] = json.loads(meta.read_text()).get("family")
        return HFJudge(spec, **kwargs)
    preset = get_preset(spec)
    if preset is not None:
        kwargs.setdefault("family", preset.family)
        return HFJudge(preset.hub_id, **kwargs)
    if "/" in spec:
        return HFJudge(spec, **kwargs)
    names = ", ".join(p.name for p in list_presets())
    raise ValueError(f"unknown judge {spec!r}: not a folder, a hub id (org/name), openai://HOST:PORT/MODEL, "
                     f"or a preset. Presets: {names}")


def _parse_openai(spec: str) -> tuple[str, str]:
    scheme, rest = spec.split("://", 1)
    http = "https" if scheme.endswith("https") else "http"
    host, _, model = rest.partition("/")
    if not host or not model:
        raise ValueError(f"expected openai://HOST:PORT/MODEL, got {spec!r}")
    return f"{http}://{host}/v1", model
