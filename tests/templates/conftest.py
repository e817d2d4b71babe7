"""One tiny real Qwen2.5-VL (processor, chat template, tokenizer) for the template tests that need a model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def qwen_dir(tmp_path_factory) -> str:
    from unireward.tiny_models import build_tiny

    return str(build_tiny("qwen2_5_vl", tmp_path_factory.mktemp("templates-model") / "qwen"))
