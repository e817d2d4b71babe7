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
  missing column) stops it with `SourceError`.
- Every record is validated (`Record.validate`) before it is written.
- `limit` counts source rows read, not records written (a ShareGPTVideo row gives three records).
- Re-running overwrites records.jsonl and skipped.jsonl; media already written are reused, not rewritten.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from unireward.records import JsonlWriter, Record, RecordError
from unireward.data.sources import get_adapter
from unireward.data.sources.common import MediaStore, Row, RowError
from unireward.media import MediaError, MissingMediaError


SHOWN_SKIPS = 20
ROW_ERRORS = (RowError, MediaError, RecordError)


class _Report:
    def __init__(self, out: Path):
        self.rows = 0
        self.records: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.shown: list[dict[str, Any]] = []
        self._file = JsonlWriter(out / "skipped.jsonl", "w")

    def skip(self, row: int | None, where: str, kind: str, reason: str) -> None:
        entry = {"row": row, "where": where, "kind": kind, "reason": reason}
        self.skipped[kind] += 1
        self._file.write(entry)
        if len(self.shown) < SHOWN_SKIPS:
            self.shown.append(entry)

    def close(self) -> None:
        self._file.close()


def _kind(e: Exception) -> str:
    if isinstance(e, RowError):
        return e.kind
    if isinstance(e, MissingMediaError):
        return "missing media"
    return "unreadable media" if isinstance(e, MediaError) else "invalid record"


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
    out.mkdir(parents=True, exist_ok=True)
    media, report, start = MediaStore(out, f"media/{source}"), _Report(out), time.time()
    bar = tqdm(desc=f"convert {source}", unit="row", disable=not progress or None, total=limit)
    try:
        with JsonlWriter(out / "records.jsonl", "w") as writer:
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
                except ROW_ERRORS as e:
                    report.skip(None, where, _kind(e), str(e))
    finally:
        bar.close()
        report.close()
    summary = {
        "source": source, "input": str(src), "output": str(out), "limit": limit,
        "rows_read": report.rows, "records_written": sum(report.records.values()),
        "records_by_task_form": dict(sorted(report.records.items())), "media_files_written": media.written,
        "rows_skipped": sum(report.skipped.values()), "skipped_by_kind": dict(report.skipped.most_common()),
        "skipped": report.shown, "skipped_file": str(out / "skipped.jsonl"),
        "seconds": round(time.time() - start, 3),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def _convert_row(adapter, row: Row, media: MediaStore, writer: JsonlWriter, report: _Report) -> None:
    if row.error:
        report.skip(row.index, row.where, "unreadable row", row.error)
        return
    try:
        _write(adapter.convert(row, media), writer, report)
    except ROW_ERRORS as e:
        report.skip(row.index, row.where, _kind(e), str(e))
