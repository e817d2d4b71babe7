"""Source fixtures in their exact download layouts, written and converted once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_fixtures import WRITERS

from unireward.data.convert import convert


@pytest.fixture(scope="session")
def source_inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sources")
    return {name: write(root) for name, write in WRITERS.items()}


@pytest.fixture(scope="session")
def converted(source_inputs, tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """(root, summaries): every source converted into root/<name>/."""
    root = tmp_path_factory.mktemp("converted")
    summaries = {name: convert(name, src, root / name, progress=False) for name, src in source_inputs.items()}
    return root, summaries
