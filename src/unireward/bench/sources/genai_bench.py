"""GenAI-Bench (`TIGER-Lab/GenAI-Bench`): GenAI-Arena votes on image and video generation pairs.

Reads ``<config>/<split>-00000-of-00001.parquet`` under the dataset folder (configs ``image_generation``
and ``video_generation``; splits ``test``, the one UnifiedReward reports, and ``test_v1``, the GenAI-Bench
leaderboard's), or a parquet file given directly. Older snapshots named the files ``train*`` /
``train_v1*``; those are found too. Columns: `prompt`, `left_model`, `right_model`, `vote_type` and
`left_image`/`right_image` (embedded bytes) or `left_video`/`right_video` (URLs).

Design choices a user will notice:
- Labels: ``leftvote`` -> A, ``rightvote`` -> B, ``tievote`` and ``bothbad_vote`` -> tie (both are human
  ties for tau/diff); the original vote is kept in ``record.meta["vote_type"]``.
- Videos are URLs in the data. ``--media-root DIR`` maps each URL to a file the user downloaded; for a URL
  ``https://huggingface.co/datasets/<repo>/blob/main/<dir>/<name>.mp4`` the candidates are, in order,
  ``DIR/<dir>/<name>.mp4`` (a ``huggingface-cli download --local-dir DIR`` of that repo),
  ``DIR/<host>/<url path>`` (``wget -x``), and ``DIR/<name>.mp4`` (a flat folder). A URL none of them
  matches is a `MissingMediaError` that lists the paths tried.
- Ids are ``<split>-<row>``: the row index in the split file (the data has no id column).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from unireward.data.sources.common import (
    MissingMediaError,
    Row,
    RowError,
    find_files,
    image_bytes,
    need_text,
    parquet_rows,
)
from unireward.records import Record
from unireward.tasks import Form, Task


if TYPE_CHECKING:
    from unireward.bench.sources import LoadContext

VOTES = {"leftvote": "A", "rightvote": "B", "tievote": "tie", "bothbad_vote": "tie"}


def load_image(data: Path, ctx: LoadContext) -> Iterator[Record]:
    """`genai-bench-image`: image generation pairs, images embedded in the parquet."""
    return _load(data, ctx, "image_generation", Task.IMAGE_GENERATION)


def load_video(data: Path, ctx: LoadContext) -> Iterator[Record]:
    """`genai-bench-video`: video generation pairs; the video URLs are mapped under ``--media-root``."""
    if ctx.media_root is None:
        raise ValueError(f"{ctx.bench}: the videos are URLs in the data; download them and pass --media-root DIR "
                         "(see docs/bench.md)")
    return _load(data, ctx, "video_generation", Task.VIDEO_GENERATION)


def _load(data: Path, ctx: LoadContext, config: str, task: Task) -> Iterator[Record]:
    split, old = ctx.split, ctx.split.replace("test", "train")
    patterns = [f"{config}/{split}-*.parquet", f"{split}-*.parquet", f"{config}/{old}-*.parquet", f"{old}-*.parquet"]
    kind = "image" if task == Task.IMAGE_GENERATION else "video"
    rows = parquet_rows(data, ("prompt", f"left_{kind}", f"right_{kind}", "vote_type"), ("left_model", "right_model"),
                        files=find_files(data, patterns, f"{config} {split} parquet"))
    return ctx.each(rows, lambda row: [_record(row, kind, task, ctx)])


def _record(row: Row, kind: str, task: Task, ctx: LoadContext) -> Record:
    d, vote = row.data, row.data["vote_type"]
    if vote not in VOTES:
        raise RowError(f"field 'vote_type' must be one of {list(VOTES)}, got {vote!r}")
    need_text(d, "prompt")
    if kind == "image":
        sides = [ctx.media.image(image_bytes(d, f"{s}_image"), f"{s}_image") for s in ("left", "right")]
    else:
        sides = [{"video": video_path(d[f"{s}_video"], ctx.media_root)} for s in ("left", "right")]
    return Record(id=f"{ctx.split}-{row.index}", source=ctx.bench, task=task, form=Form.PAIR, prompt=d["prompt"],
                  candidates=[{"media": [m]} for m in sides], label={"winner": VOTES[vote]},
                  meta={"vote_type": vote, "models": [d.get("left_model"), d.get("right_model")]})


def url_candidates(url: str, root: Path) -> list[Path]:
    """Where a downloaded copy of a video URL may be under `root`, most specific first."""
    parsed = urlparse(url)
    path = unquote(parsed.path).lstrip("/")
    out = []
    for marker in ("/blob/main/", "/resolve/main/"):
        if marker in "/" + path:
            out.append(root / ("/" + path).split(marker, 1)[1])
    if parsed.netloc:
        out.append(root / parsed.netloc / path)
    out.append(root / Path(path).name)
    return list(dict.fromkeys(out))


def video_path(url: Any, root: Path) -> str:
    """The absolute path of the downloaded video for `url`, or a `MissingMediaError` listing the paths tried."""
    if not isinstance(url, str) or not url.strip():
        raise RowError(f"expected a video URL, got {url!r}")
    tried = url_candidates(url, root) if "://" in url else [root / url]
    for p in tried:
        if p.is_file():
            return str(p.resolve())
    raise MissingMediaError(f"no downloaded file for {url} (tried {', '.join(map(str, tried))})", tried[0])
