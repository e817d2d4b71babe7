"""Where converted checkpoints are kept: ``$UNIREWARD_CACHE`` (default ``~/.cache/unireward``)/converted/.

A conversion is written to a temporary folder next to its final place and renamed when complete, so an
interrupted conversion is redone, never half-used.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("UNIREWARD_CACHE") or Path.home() / ".cache" / "unireward")


def converted_folder(repo: str, kind: str, build: Callable[[Path], None]) -> Path:
    """The folder holding `repo` converted by `build` (run once; later calls return the cached folder)."""
    slug = str(Path(repo).resolve()).strip("/").replace("/", "--") if Path(repo).is_dir() else repo.replace("/", "--")
    final = cache_root() / "converted" / kind / slug
    if (final / ".complete").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{slug}-", dir=final.parent))
    try:
        build(tmp)
        (tmp / ".complete").write_text(repo + "\n")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
