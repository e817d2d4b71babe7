"""Run a source adapter: stream rows, write unified records and media, report what was skipped.

`convert("oip", "open-image-preferences/", "unified/oip")` writes ``unified/oip/records.jsonl``,
``unified/oip/media/oip/...``, ``unified/oip/skipped.jsonl`` (every skipped row: position and reason) and
``unified/oip/summary.json`` (also returned).

Design choices a user will notice:
- Memory does not grow with the number of rows: rows stream in, records are written and flushed as they
  are made; only counters and the first `SHOWN_SKIPS` skip reasons stay in memory (all of them go to
  skipped.jsonl).
- A bad row never stops the conversion: it is reported with its position (``train-00000.parquet row 17``)
  and its reason, and counted by kind in the summary. A problem with the input as a whole (missing file,
  missing column, a file that is not parquet) stops it with `SourceError`, which names the file.
- Every record is validated (`Record.validate`) before it is written.
- `limit` counts source rows read, not records written (a ShareGPTVideo row gives three records).
- An existing output is replaced only by a finished conversion: records.jsonl and skipped.jsonl are written
  under temporary names and renamed at the end, so a conversion that fails (a missing input, a truncated file
  met half-way, Ctrl-C) leaves the previous output as it was. Media already written are reused, not rewritten.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from unireward.data.sources import get_adapter
from unireward.data.sources.common import Adapter, MediaStore, Row, RowError, SourceError, as_row_error
from unireward.records import JsonlWriter, Record


SHOWN_SKIPS = 20


class _Report:
    def __init__(self, path: Path):
        self.rows = 0
        self.records: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.shown: list[dict[str, Any]] = []
        self._file = JsonlWriter(path, "w")

    def skip(self, row: int | None, where: str, e: Exception) -> None:
        """Report item `where`; an error that is not about one item (`as_row_error`) is raised again."""
        error = as_row_error(e, where)
        if error is None:
            raise e
        entry = {"row": row, "where": where, "kind": error.kind, "reason": error.reason}
        self.skipped[error.kind] += 1
        self._file.write(entry)
        if len(self.shown) < SHOWN_SKIPS:
            self.shown.append(entry)

    def close(self) -> None:
        self._file.close()


def _write(records: list[Record], writer: JsonlWriter, report: _Report) -> None:
    for r in records:
        r.validate()
    for r in records:  # all or nothing per row: validated first
        writer.write(r)
        report.records[f"{r.task}/{r.form}"] += 1


def convert(source: str, src: str | Path, out: str | Path, limit: int | None = None,
            progress: bool = True) -> dict[str, Any]:
    """Convert the source files at `src` into unified records under `out`; returns the summary."""
    from tqdm import tqdm

    adapter, src, out = get_adapter(source), Path(src), Path(out)
    if not src.exists():
        raise SourceError(f"{src}: no such file or folder")
    out.mkdir(parents=True, exist_ok=True)
    final = {name: out / name for name in ("records.jsonl", "skipped.jsonl")}
    tmp = {name: out / f".{name}.{os.getpid()}.tmp" for name in final}
    media, report, start = MediaStore(out, f"media/{source}"), _Report(tmp["skipped.jsonl"]), time.time()
    bar = tqdm(desc=f"convert {source}", unit="row", disable=not progress or None, total=limit)
    done = False
    try:
        with JsonlWriter(tmp["records.jsonl"], "w") as writer:
            _run(adapter, src, limit, media, writer, report, bar)
        done = True
    finally:
        bar.close()
        report.close()
        for name, path in tmp.items():
            if done:
                os.replace(path, final[name])
            else:
                path.unlink(missing_ok=True)
    summary = {
        "source": source, "input": str(src), "output": str(out), "limit": limit,
        "rows_read": report.rows, "records_written": sum(report.records.values()),
        "records_by_task_form": dict(sorted(report.records.items())), "media_files_written": media.written,
        "rows_skipped": sum(report.skipped.values()), "skipped_by_kind": dict(report.skipped.most_common()),
        "skipped": report.shown, "skipped_file": str(final["skipped.jsonl"]),
        "seconds": round(time.time() - start, 3),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def _run(adapter: Adapter, src: Path, limit: int | None, media: MediaStore, writer: JsonlWriter, report: _Report,
         bar) -> None:
    for row in adapter.rows(src):
        if limit is not None and report.rows >= limit:
            break
        row.index = report.rows
        report.rows += 1
        bar.update()
        _convert_row(adapter, row, media, writer, report)
    for where, records in adapter.finish(media):
        try:
            _write(records, writer, report)
        except Exception as e:
            report.skip(None, where, e)


def _convert_row(adapter: Adapter, row: Row, media: MediaStore, writer: JsonlWriter, report: _Report) -> None:
    if row.error:
        report.skip(row.index, row.where, RowError(row.error, "unreadable row"))
        return
    try:
        _write(adapter.convert(row, media), writer, report)
    except Exception as e:
        report.skip(row.index, row.where, e)
