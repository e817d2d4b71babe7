"""Judges: the `Judge` interface, its backends (`hf`, `openai`) and the preset registry.

Backends load lazily: importing this package does not import torch or transformers.
"""

from unireward.judges.base import Judge, Request
from unireward.judges.registry import get_preset, list_presets, load_judge


__all__ = ["Judge", "Request", "get_preset", "list_presets", "load_judge"]
