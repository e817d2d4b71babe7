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

import csv
from collections.abc import Iterator
from pathlib import Path

from unireward.bench.sources._common import BenchDataError, LoadContext, existing_file, find_files
from unireward.records import Record
from unireward.tasks import Form, Task


BENCH = "videogen-rewardbench"
SPLITS = ("eval",)
DIMS = ("VQ", "MQ", "TA")
LABELS = {"A": "A", "B": "B", "same": "tie"}
COLUMNS = ("path_A", "path_B", "prompt", "Overall", *DIMS)


def load(data: Path, ctx: LoadContext) -> Iterator[Record]:
    if (ctx.split or "eval") not in SPLITS:
        raise ValueError(f"{BENCH}: unknown split {ctx.split!r}; valid: {', '.join(SPLITS)}")
    for path in find_files(data, ["videogen-rewardbench.csv", "*.csv"], BENCH, "CSV file"):
        root = ctx.media_root or path.parent
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise BenchDataError(f"{BENCH}: {path}: missing column(s) {missing}; the file has "
                                     f"{reader.fieldnames}", str(path))
            for i, row in enumerate(reader):
                try:
                    yield _record(row, f"row-{i}", root)
                except BenchDataError as e:
                    ctx.on_error(e)


def _label(row: dict[str, str], col: str, item: str) -> str:
    value = (row.get(col) or "").strip()
    if value not in LABELS:
        raise BenchDataError(f"{BENCH}: {item}: column '{col}' must be A, B or same, got {value!r}", item)
    return LABELS[value]


def _record(row: dict[str, str], item: str, root: Path) -> Record:
    prompt = (row.get("prompt") or "").strip()
    if not prompt:
        raise BenchDataError(f"{BENCH}: {item}: column 'prompt' is empty", item)
    label = _label(row, "Overall", item)
    dims = {d: _label(row, d, item) for d in DIMS}
    paths = []
    for col in ("path_A", "path_B"):
        rel = (row.get(col) or "").strip()
        if not rel:
            raise BenchDataError(f"{BENCH}: {item}: column '{col}' is empty", item)
        paths.append(existing_file(root / rel.removeprefix("./"), item, BENCH,
                                   "unzip videos.zip next to the CSV, or pass --media-root"))
    return Record(id=item, source=BENCH, task=Task.VIDEO_GENERATION, form=Form.PAIR, prompt=prompt,
                  candidates=[{"media": [{"video": p}]} for p in paths], label={"winner": label},
                  meta={"dims": dims, "models": [row.get("A_model"), row.get("B_model")]})
