"""Preference data for VLM DPO: `unireward construct`'s pairs, or any TRL preference dataset, checked row by row.

    ds = load_preference_data("pairs/")                      # a construct output folder (pairs.jsonl)
    ds = load_preference_data("openbmb/RLAIF-V-Dataset")     # a hub dataset, or a folder / file of JSONL/Parquet
    ds = load_preference_data(["pairs-1/", "pairs-2/"])      # several sources, one dataset (iterative DPO)

Design choices a user will notice:
- Accepted sources, in this order: a `unireward construct` output folder (``pairs.jsonl``), a
  ``Dataset.save_to_disk`` folder, any other folder or a single ``.jsonl``/``.json``/``.parquet`` file
  (read with `datasets.load_dataset`), else a hub dataset id.
- Rows are TRL's explicit-prompt preference rows: ``prompt``, ``chosen``, ``rejected`` (conversational or
  plain text), and ``images`` (or one ``image``) and/or ``videos``. A video is a file path or a list of frame
  paths. Media given as paths are resolved relative to the data file's folder.
- Every row is checked before training starts: the three texts are present, every media file exists, and the
  number of image/video placeholders in a structured prompt matches the row's media. All bad rows are reported
  at once in one `PairDataError` that names each row (its index and ``id``) and its problem; nothing is
  skipped silently.
- Only the columns training needs are kept (the judge's evidence columns are dropped); a ``row_id`` column
  ("row 3 (id q17)") lets the collator name the row when a video fails to decode.
- Video-only data gets an empty ``images`` column: TRL's `DPOTrainer` recognises vision data by that column.
- Several sources are checked one by one (all bad rows of all sources in one error) and concatenated; a row is
  then named with its source ("pairs-2: row 3 (id q17)"). Round k+1 of iterative DPO trains on every round's
  pairs this way: on the synthetic world, round-2 pairs alone made the answerer forget the question kinds it no
  longer disagreed with itself on (docs/align.md, "Second round").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


TEXT_COLUMNS = ("prompt", "chosen", "rejected")
ROW_ID = "row_id"
MAX_LISTED = 20  # bad rows listed in one error message (the count says how many there are)


class PairDataError(ValueError):
    """Preference rows that cannot be trained on; the message names every bad row and its problem."""


def load_preference_data(source: str | Path | Sequence[str | Path], split: str = "train"):
    """The preference rows of `source` (one source or several) as a `datasets.Dataset`, checked, media paths
    resolved, images typed."""
    import datasets

    if isinstance(source, (str, Path)):
        ds, root = _read(source, split)
        return prepare_rows(ds, root, str(source))
    if not source:
        raise ValueError("no preference data given")
    if len(source) == 1:
        return load_preference_data(source[0], split)
    parts, problems = [], []
    for one in source:
        try:
            ds, root = _read(one, split)
            parts.append(prepare_rows(ds, root, str(one), label=f"{one}: "))
        except PairDataError as e:
            problems.append(str(e))
    if problems:
        raise PairDataError("\n".join(problems))
    columns = [sorted(p.column_names) for p in parts]
    if any(c != columns[0] for c in columns):
        raise PairDataError("preference sources have different columns and cannot be trained as one set: " + "; ".join(
            f"{s} ({', '.join(c)})" for s, c in zip(source, columns)))
    return datasets.concatenate_datasets(parts)


def _read(source: str | Path, split: str):
    import datasets

    from unireward.construct.outputs import PAIRS_FILE

    path = Path(source)
    if path.is_dir() and (path / PAIRS_FILE).is_file():
        return datasets.load_dataset("json", data_files=str(path / PAIRS_FILE), split="train"), path
    if path.is_dir() and (path / "dataset_info.json").is_file():
        ds = datasets.load_from_disk(str(path))
        return (ds[split] if isinstance(ds, datasets.DatasetDict) else ds), path
    if path.is_dir():
        return datasets.load_dataset(str(path), split=split), path
    if path.is_file():
        kind = "parquet" if path.suffix == ".parquet" else "json"
        return datasets.load_dataset(kind, data_files=str(path), split="train"), path.parent
    if str(source).startswith((".", "/")) or path.suffix in (".jsonl", ".json", ".parquet"):
        raise FileNotFoundError(f"preference data {source} not found")
    return datasets.load_dataset(str(source), split=split), None


def prepare_rows(ds, root: Path | None, name: str, label: str = ""):
    """Check every row of `ds` (raising one `PairDataError` for all bad rows), then keep and type the columns;
    `label` prefixes every row's name (its source, when several are trained as one set)."""
    import datasets

    missing = [c for c in TEXT_COLUMNS if c not in ds.column_names]
    if missing:
        raise PairDataError(f"{name}: preference rows need columns {', '.join(TEXT_COLUMNS)}; missing "
                            f"{', '.join(missing)} (columns: {', '.join(ds.column_names)})")
    if "image" in ds.column_names and "images" not in ds.column_names:
        ds = ds.map(lambda x: {"images": [] if x["image"] is None else [x["image"]]}, remove_columns=["image"])
    ids = ds["id"] if "id" in ds.column_names else [None] * len(ds)
    row_ids = [f"{label}row {i}" + (f" (id {r})" if r is not None else "") for i, r in enumerate(ids)]
    view = ds.select_columns([c for c in (*TEXT_COLUMNS, "images", "videos") if c in ds.column_names])
    if "images" in view.column_names and _is_image_feature(view.features["images"]):
        view = view.cast_column("images", datasets.Sequence(datasets.Image(decode=False)))
    problems = [(row_ids[i], p) for i, row in enumerate(view) for p in row_problems(row, root)]
    if problems:
        raise PairDataError(_report(name, problems))
    ds = ds.select_columns([c for c in (*TEXT_COLUMNS, "images", "videos") if c in ds.column_names])
    ds = ds.add_column(ROW_ID, row_ids)
    return _resolve_media(ds, root)


def _is_image_feature(feature: Any) -> bool:
    import datasets

    inner = getattr(feature, "feature", None)
    if isinstance(feature, list) and feature:
        inner = feature[0]
    return isinstance(inner, datasets.Image)


def _report(name: str, problems: list[tuple[str, str]]) -> str:
    rows = {r for r, _ in problems}
    lines = [f"  {r}: {p}" for r, p in problems[:MAX_LISTED]]
    more = f"\n  ... and {len(problems) - MAX_LISTED} more problems" if len(problems) > MAX_LISTED else ""
    return f"{name}: {len(rows)} bad preference row(s):\n" + "\n".join(lines) + more


def row_problems(row: dict[str, Any], root: Path | None) -> list[str]:
    """What is wrong with one row (empty when it can be trained on)."""
    problems = [f"{c} is empty" for c in TEXT_COLUMNS if not _has_text(row.get(c))]
    images, videos = row.get("images") or [], row.get("videos") or []
    for kind, items in (("image", images), ("video", videos)):
        for item in items:
            problems += [f"{kind} file {p} not found" for p in _missing(item, root)]
    problems += _placeholder_problems(row.get("prompt"), len(images), len(videos))
    return problems


def _has_text(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, list) and len(value) > 0


def _missing(item: Any, root: Path | None) -> list[str]:
    """Paths of a media item (a path, an image-feature dict, or a list of frame paths) that do not exist."""
    if isinstance(item, dict):  # datasets.Image(decode=False): embedded bytes, or a path
        return [] if item.get("bytes") else _missing(item.get("path"), root)
    if isinstance(item, (list, tuple)):
        return [p for frame in item for p in _missing(frame, root)]
    if isinstance(item, str):
        return [] if resolve(item, root).exists() else [item]
    return []


def resolve(path: str, root: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or root is None else root / p


def _placeholder_problems(prompt: Any, n_images: int, n_videos: int) -> list[str]:
    """A structured prompt must hold one placeholder per image and per video (plain-text prompts get them)."""
    if not isinstance(prompt, list) or not all(isinstance(m, dict) for m in prompt):
        return [] if isinstance(prompt, str) or prompt is None else ["prompt is neither text nor a message list"]
    blocks = [b for m in prompt if isinstance(m.get("content"), list) for b in m["content"] if isinstance(b, dict)]
    if not blocks:
        return []
    found = {k: sum(1 for b in blocks if b.get("type") == k) for k in ("image", "video")}
    want = {"image": n_images, "video": n_videos}
    return [f"prompt has {found[k]} {k} placeholder(s) but the row has {want[k]} {k}(s)"
            for k in ("image", "video") if found[k] != want[k]]


def _resolve_media(ds, root: Path | None):
    """Media paths made absolute; path images typed as `datasets.Image` (decoded lazily); videos stay paths."""
    import datasets

    def absolute(item: Any) -> Any:
        if isinstance(item, str):
            return str(resolve(item, root).resolve())
        if isinstance(item, list):
            return [absolute(x) for x in item]
        return item

    if "images" in ds.column_names and not _is_image_feature(ds.features["images"]):
        if any(ds["images"]):
            ds = ds.map(lambda x: {"images": absolute(x["images"])})
            ds = ds.cast_column("images", datasets.Sequence(datasets.Image()))
    if "videos" in ds.column_names:
        ds = ds.map(lambda x: {"videos": absolute(x["videos"] or [])})
    if "images" not in ds.column_names:
        ds = ds.add_column("images", [[] for _ in range(len(ds))])
    return ds
