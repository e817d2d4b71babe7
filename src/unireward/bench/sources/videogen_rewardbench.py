"""VideoGen-RewardBench (`KwaiVGI/VideoGen-RewardBench`): ~26.5k text-to-video pairs, 4 preference labels.

Reads ``videogen-rewardbench.csv`` (or any CSV given directly) and the unzipped ``videos/`` folder next to
it (``videos.zip`` unpacks to ``videos/<model>/<model>_<nnnnn>.mp4``). `path_A`/`path_B` are resolved
against ``--media-root`` when given, else against the CSV's folder; a ``./`` prefix is accepted.

Design choices a user will notice:
- The label is the `Overall` column (``A`` / ``B`` / ``same`` -> tie), as in the paper; the three
  dimension labels `VQ` (visual quality), `MQ` (motion quality) and `TA` (text alignment) go to
  ``record.meta["dims"]`` and are scored against the same verdict, so the report shows how an overall judge
  tracks each dimension.
- Ids are ``row-<n>``: the CSV has no id column, so the row number (from 0, header excluded) is the id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from unireward.data.sources.common import Row, RowError, csv_rows, find_files, find_media
from unireward.records import Record
from unireward.tasks import Form, Task


if TYPE_CHECKING:
    from unireward.bench.sources import LoadContext

DIMS = ("VQ", "MQ", "TA")
LABELS = {"A": "A", "B": "B", "same": "tie"}
COLUMNS = ("path_A", "path_B", "prompt", "Overall", *DIMS)


def load(data: Path, ctx: LoadContext) -> Iterator[Record]:
    files = find_files(data, ["videogen-rewardbench.csv", "*.csv"], "CSV")
    return ctx.each(csv_rows(data, COLUMNS, files), lambda row: [_record(row, ctx.media_root or row.file.parent)])


def _text(d: dict[str, str], col: str) -> str:
    value = (d.get(col) or "").strip()
    if not value:
        raise RowError(f"column '{col}' is empty", "missing field")
    return value


def _label(d: dict[str, str], col: str) -> str:
    value = (d.get(col) or "").strip()
    if value not in LABELS:
        raise RowError(f"column '{col}' must be A, B or same, got {value!r}")
    return LABELS[value]


def _record(row: Row, root: Path) -> Record:
    d = row.data
    prompt, label, dims = _text(d, "prompt"), _label(d, "Overall"), {k: _label(d, k) for k in DIMS}
    paths = [str(find_media(_text(d, c).removeprefix("./"), [root], "video",
                            "unzip videos.zip next to the CSV, or pass --media-root").resolve())
             for c in ("path_A", "path_B")]
    return Record(id=f"row-{row.pos}", source="videogen-rewardbench", task=Task.VIDEO_GENERATION, form=Form.PAIR,
                  prompt=prompt, candidates=[{"media": [{"video": p}]} for p in paths], label={"winner": label},
                  meta={"dims": dims, "models": [d.get("A_model"), d.get("B_model")]})
