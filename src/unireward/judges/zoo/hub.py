"""The download boundary of the zoo: every file or folder a zoo entry needs comes through these two calls.

A local folder in place of a repository id is used as is (nothing is downloaded). Tests replace these
functions (and only these) to stand a local folder in for the hub.
"""

from __future__ import annotations

from pathlib import Path


def fetch_file(repo: str, filename: str) -> Path:
    """`filename` of hub repository `repo` (downloaded once, then from the Hugging Face cache), or of a folder."""
    if Path(repo).is_dir():
        path = Path(repo) / filename
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the folder given for this model lacks {filename!r}")
        return path
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo, filename))


def fetch_folder(repo: str) -> Path:
    """A local copy of hub repository `repo` (the whole snapshot), or `repo` itself when it is a folder."""
    if Path(repo).is_dir():
        return Path(repo)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo))
