"""The construction store: one embedded SQLite file holding every candidate, judgment and decision.

Tables:
- ``candidates``: the N samples of each prompt, keyed by the generator's identity (spec, options, N, seed)
  and the prompt id; media files are stored as paths relative to the store's folder.
- ``judgments``: every judge answer, keyed by a hash of the judge's identity (name, weights fingerprint,
  prompt family, decoding mode, score scale ...), the task, the form, and the content hashes of the prompt,
  the shared media and the candidates (in the order shown). Any run whose judge and inputs match reuses it.
- ``outcomes``: per run and prompt, the kept row or the drop decision; ``failures``: per run and prompt,
  the last error of a prompt that could not be processed (cleared when it later succeeds).
- ``runs``: the configuration of each run, so that ``--resume`` can refuse a changed one.

Design choices a user will notice:
- Write-ahead logging, and a commit after every judge batch and every prompt: a killed job loses at most
  the batch in flight. Other processes on the same machine (Ray actors) may read while the driver writes.
- Only answers are cached. A judgment that failed before the judge answered (unreadable media, a server
  error) is not stored, so a rerun tries it again; an answer that could not be parsed is stored (the judge
  decodes greedily, so asking again gives the same text).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from unireward.construct.items import Candidate
from unireward.tasks import Score, Verdict


SCHEMA = """
CREATE TABLE IF NOT EXISTS candidates (
    gen_key TEXT NOT NULL, prompt_id TEXT NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (gen_key, prompt_id, idx));
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY, judge_key TEXT NOT NULL, judge TEXT NOT NULL, family TEXT, task TEXT NOT NULL,
    form TEXT NOT NULL, prompt_hash TEXT NOT NULL, media_hash TEXT NOT NULL, a_hash TEXT NOT NULL,
    b_hash TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (
    run_key TEXT NOT NULL, prompt_id TEXT NOT NULL, status TEXT NOT NULL, row TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (run_key, prompt_id));
CREATE TABLE IF NOT EXISTS failures (
    run_key TEXT NOT NULL, prompt_id TEXT NOT NULL, stage TEXT NOT NULL, error TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (run_key, prompt_id));
CREATE TABLE IF NOT EXISTS runs (run_key TEXT PRIMARY KEY, config TEXT NOT NULL, created REAL NOT NULL);
"""

JUDGMENT_META = ("judge_key", "judge", "family", "task", "form", "prompt_hash", "media_hash", "a_hash", "b_hash")


def result_to_json(result: Verdict | Score) -> str:
    kind = "verdict" if isinstance(result, Verdict) else "score"
    return json.dumps({"kind": kind, **result.to_dict()}, ensure_ascii=False)


def result_from_json(text: str) -> Verdict | Score:
    d = json.loads(text)
    kind = d.pop("kind")
    return verdict_from_dict(d) if kind == "verdict" else score_from_dict(d)


def verdict_from_dict(d: dict[str, Any]) -> Verdict:
    swapped = d.get("swapped")
    return Verdict(**{**d, "swapped": verdict_from_dict(swapped) if swapped else None})


def score_from_dict(d: dict[str, Any]) -> Score:
    return Score(**{**d, "scale": tuple(d["scale"])})


class Store:
    """The SQLite store of a construction job (one file; safe to share between runs and strategies)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.root = self.path.parent.resolve()
        # check_same_thread=False: a Ray actor opens the store in its constructor and reads it from a worker
        # thread; each Store is still used by one thread at a time.
        self.db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process kills
        self.db.executescript(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ runs
    def run_config(self, run_key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT config FROM runs WHERE run_key = ?", (run_key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_run(self, run_key: str, config: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)",
                            (run_key, json.dumps(config, sort_keys=True), time.time()))

    # ------------------------------------------------------------------ candidates
    def candidates(self, gen_key: str, prompt_id: str) -> list[Candidate] | None:
        rows = self.db.execute("SELECT data FROM candidates WHERE gen_key = ? AND prompt_id = ? ORDER BY idx",
                               (gen_key, prompt_id)).fetchall()
        if not rows:
            return None
        out = [Candidate.from_dict(json.loads(r[0])) for r in rows]
        for c in out:
            if c.path is not None:
                c.path = str((self.root / c.path).resolve())
        return out

    def put_candidates(self, gen_key: str, prompt_id: str, cands: Sequence[Candidate]) -> None:
        rows = []
        for c in cands:
            d = c.to_dict()
            if c.path is not None:
                d["path"] = _relative(Path(c.path), self.root)
            rows.append((gen_key, prompt_id, c.index, json.dumps(d, ensure_ascii=False)))
        with self.db:
            self.db.execute("DELETE FROM candidates WHERE gen_key = ? AND prompt_id = ?", (gen_key, prompt_id))
            self.db.executemany("INSERT INTO candidates VALUES (?, ?, ?, ?)", rows)

    # ------------------------------------------------------------------ judgments
    def get_judgments(self, keys: Iterable[str]) -> dict[str, Verdict | Score]:
        keys = list(dict.fromkeys(keys))
        out: dict[str, Verdict | Score] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, result in self.db.execute(f"SELECT key, result FROM judgments WHERE key IN ({marks})", chunk):
                out[key] = result_from_json(result)
        return out

    def put_judgments(self, entries: Iterable[tuple[str, dict[str, Any], Verdict | Score]]) -> int:
        """Store (key, meta, result) entries whose result carries an answer; returns how many were stored."""
        rows = [(key, *(meta.get(k) or "" for k in JUDGMENT_META), result_to_json(r), time.time())
                for key, meta, r in entries if cacheable(r)]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def count_judgments(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]

    # ------------------------------------------------------------------ outcomes and failures
    def outcomes(self, run_key: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """prompt id -> (status "kept" | "dropped", row), in commit order."""
        rows = self.db.execute("SELECT prompt_id, status, row FROM outcomes WHERE run_key = ? ORDER BY rowid",
                               (run_key,))
        return {pid: (status, json.loads(row)) for pid, status, row in rows}

    def put_outcome(self, run_key: str, prompt_id: str, status: str, row: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?)",
                            (run_key, prompt_id, status, json.dumps(row, ensure_ascii=False), time.time()))
            self.db.execute("DELETE FROM failures WHERE run_key = ? AND prompt_id = ?", (run_key, prompt_id))

    def clear_outcomes(self, run_key: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM outcomes WHERE run_key = ?", (run_key,))
            self.db.execute("DELETE FROM failures WHERE run_key = ?", (run_key,))

    def put_failure(self, run_key: str, prompt_id: str, stage: str, error: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                            (run_key, prompt_id, stage, error, time.time()))

    def failures(self, run_key: str) -> dict[str, tuple[str, str]]:
        rows = self.db.execute("SELECT prompt_id, stage, error FROM failures WHERE run_key = ? ORDER BY rowid",
                               (run_key,))
        return {pid: (stage, error) for pid, stage, error in rows}


def cacheable(result: Verdict | Score) -> bool:
    """An answer (parseable or not) is cached; a failure before the judge answered is not."""
    return result.ok or bool(result.text)


def _relative(path: Path, root: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), root)
