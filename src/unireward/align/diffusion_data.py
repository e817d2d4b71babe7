"""Preference pairs for Diffusion-DPO: reading, validation, pixels, and the latent cache.

Accepted inputs (`load_pair_source`):

- a `unireward construct` output folder (its ``pairs.jsonl``) or any JSONL file, media paths relative to
  the file's folder: image rows in the Pick-a-Pic layout (``caption``, ``jpg_0``, ``jpg_1``, ``label_0``),
  video rows as ``caption``, ``chosen``, ``rejected``;
- Pick-a-Pic itself: parquet files (or a folder of them) with ``jpg_0``/``jpg_1`` as JPEG bytes, or a
  `datasets` hub id (``yuvalkirstain/pickapic_v2``) with a split.

Design choices a user will notice:
- ``label_0`` = 1 means ``jpg_0`` is preferred, 0 means ``jpg_1`` is; 0.5 (a Pick-a-Pic tie) is skipped and
  counted, as upstream's training script filters ties. Any other label is an error.
- Every row is checked before training starts (fields, labels, and for file rows that each media file exists
  and decodes); the error lists the bad rows by line/row number and id. ``skip_bad_rows`` drops them
  instead and reports them in the summary. Image bytes of parquet/hub rows are read when first used (so
  Pick-a-Pic is never held in memory); a bad one stops training with an error that names the row (with
  ``cache_latents`` every image is read before the first step).
- Images are resized so they cover the training size, then centre-cropped (no random crop or flip, so a
  cached latent is the latent). Videos are read as ``num_frames`` frames sampled uniformly (the judge's and
  construct's rule), each frame treated like an image.
- The latent cache stores each image's or video's VAE posterior (mean and log-variance) once, keyed by the
  content hash and everything that changes the latent (VAE, size, frames); a fresh latent is sampled from it
  at every use, as when encoding on the fly.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch


IMAGE_COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0")
VIDEO_COLUMNS = ("caption", "chosen", "rejected")
MAX_LISTED = 20


class PairDataError(ValueError):
    """Bad preference rows; the message names each row and its problem."""


@dataclass
class PairRow:
    """One usable pair: chosen and rejected media as file paths or encoded bytes."""

    where: str  # "pairs.jsonl line 4 (id 'p3')" — how errors name the row
    caption: str
    chosen: Media
    rejected: Media


@dataclass
class PairSource:
    """The usable rows of a pair file, what was skipped and why."""

    kind: str  # "image" | "video"
    rows: list[PairRow]
    ties_skipped: int = 0
    bad_rows: list[str] = field(default_factory=list)
    origin: str = ""

    def __len__(self) -> int:
        return len(self.rows)


# ---------------------------------------------------------------------- reading
def _row_name(origin: str, number: int, raw: dict[str, Any], unit: str) -> str:
    rid = raw.get("id", raw.get("ranking_id"))
    return f"{origin} {unit} {number}" + (f" (id {rid!r})" if rid is not None else "")


def _read_jsonl(path: Path) -> tuple[list[tuple[str, dict[str, Any] | None, str | None]], Path]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            out.append((_row_name(path.name, n, raw, "line"), raw, None))
        except ValueError as e:
            out.append((f"{path.name} line {n}", None, f"not valid JSON: {e}"))
    return out, path.parent


@dataclass(frozen=True)
class TableMedia:
    """An image held as bytes in row `index`, column `column` of a `datasets` table, read when used."""

    table: Any = field(repr=False, compare=False)
    index: int = 0
    column: str = ""

    def read(self) -> bytes:
        value = self.table[self.index][self.column]
        if isinstance(value, dict):  # an undecoded datasets Image: {"bytes": ..., "path": ...}
            value = value.get("bytes") or (Path(value["path"]).read_bytes() if value.get("path") else None)
        if not isinstance(value, (bytes, bytearray)) or not value:
            raise PairDataError(f"row {self.index}: {self.column} holds no image bytes")
        return bytes(value)


def _read_table(data: str, split: str) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    """Rows of parquet files or a hub dataset; captions and labels now, image bytes lazily (Pick-a-Pic is large)."""
    import datasets

    path = Path(data)
    if path.is_dir():
        files = sorted(str(p) for p in path.glob("**/*.parquet"))
        ds = datasets.load_dataset("parquet", data_files=files, split="train")
    elif path.suffix == ".parquet":
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    else:
        ds = datasets.load_dataset(data, split=split)
    origin = path.name or data
    for col in ("jpg_0", "jpg_1"):
        if col in ds.features and isinstance(ds.features[col], datasets.Image):
            ds = ds.cast_column(col, datasets.Image(decode=False))
    media = {c: ds.select_columns([c]) for c in ("jpg_0", "jpg_1", "chosen", "rejected") if c in ds.column_names}
    cols = [c for c in ("caption", "label_0", "id", "ranking_id") if c in ds.column_names]
    out = []
    for i, raw in enumerate(ds.select_columns(cols)):
        raw.update({c: TableMedia(t, i, c) for c, t in media.items()})
        out.append((_row_name(origin, i, raw, "row"), raw, None))
    return out


def _raw_rows(data: str | Path, split: str):
    path = Path(data)
    if path.is_dir() and (path / "pairs.jsonl").is_file():
        return _read_jsonl(path / "pairs.jsonl")
    if path.is_file() and path.suffix in (".jsonl", ".json"):
        return _read_jsonl(path)
    if path.exists() or "/" in str(data):
        return _read_table(str(data), split), None
    raise FileNotFoundError(f"pair data {data!r} not found (a construct folder, a JSONL file, parquet files, "
                            f"or a datasets hub id)")


Media = str | bytes | TableMedia  # a file path, encoded bytes, or bytes in a table row


# ---------------------------------------------------------------------- validation
def _label(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in (0, 0.5, 1):
        raise ValueError(f"label_0 must be 1 (jpg_0 preferred) or 0 (jpg_1 preferred), or 0.5 for a tie; "
                         f"got {value!r}")
    return float(value)


def _media(raw: dict[str, Any], key: str, base: Path | None) -> Media:
    value = raw.get(key)
    if isinstance(value, TableMedia):
        return value
    if isinstance(value, dict):  # datasets Image feature undecoded: {"bytes":..., "path":...}
        value = value.get("bytes") or value.get("path")
    if isinstance(value, (bytes, bytearray)):
        if not value:
            raise ValueError(f"{key} is empty")
        return bytes(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing or not a path")
    path = Path(value)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ValueError(f"{key} file not found: {path}")
    return str(path)


def _check_decodes(row: PairRow, kind: str, decode: Callable[[Media, str], Any]) -> None:
    for name, media in (("chosen", row.chosen), ("rejected", row.rejected)):
        if isinstance(media, str):
            decode(media, f"{row.where}: {name} {kind}")


def _parse_row(where: str, raw: dict[str, Any], base: Path | None) -> tuple[str, PairRow | None]:
    """(kind, row) of one raw row; row None for a tie. Raises ValueError naming the problem."""
    caption = raw.get("caption")
    if not isinstance(caption, str):
        raise ValueError("caption is missing or not a string")
    if "jpg_0" in raw or "label_0" in raw:
        label = _label(raw.get("label_0"))
        a, b = _media(raw, "jpg_0", base), _media(raw, "jpg_1", base)
        if label == 0.5:
            return "image", None
        return "image", PairRow(where, caption, a, b) if label == 1 else PairRow(where, caption, b, a)
    if "chosen" in raw or "rejected" in raw:
        return "video", PairRow(where, caption, _media(raw, "chosen", base), _media(raw, "rejected", base))
    raise ValueError(f"neither Pick-a-Pic columns ({', '.join(IMAGE_COLUMNS)}) nor video-pair columns "
                     f"({', '.join(VIDEO_COLUMNS)})")


def load_pair_source(data: str | Path, split: str = "train", skip_bad_rows: bool = False,
                     verify_media: bool = True) -> PairSource:
    """Every usable pair of `data`, checked; raises `PairDataError` listing bad rows unless `skip_bad_rows`."""
    raw_rows, base = _raw_rows(data, split)
    rows, bad, kinds, ties = [], [], set(), 0
    for where, raw, problem in raw_rows:
        try:
            if problem:
                raise ValueError(problem)
            kind, row = _parse_row(where, raw, base)  # type: ignore[arg-type]
            kinds.add(kind)
            if row is None:
                ties += 1
                continue
            if verify_media:
                _check_decodes(row, kind, load_pixels_checker(kind))
            rows.append(row)
        except ValueError as e:
            bad.append(f"{where}: {e}")
    if len(kinds) > 1:
        raise PairDataError(f"{data}: mixes image rows (jpg_0/jpg_1) and video rows (chosen/rejected)")
    if bad and not skip_bad_rows:
        listed = "\n  ".join(bad[:MAX_LISTED]) + (f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) >
                                                  MAX_LISTED else "")
        raise PairDataError(f"{data}: {len(bad)} bad row(s) (fix them or set skip_bad_rows):\n  {listed}")
    if not rows:
        raise PairDataError(f"{data}: no usable pairs ({ties} ties skipped, {len(bad)} bad rows)")
    return PairSource(kinds.pop(), rows, ties, bad, str(data))


# ---------------------------------------------------------------------- pixels
def _open_image(media: Media, name: str):
    from PIL import Image, UnidentifiedImageError

    if isinstance(media, TableMedia):
        media = media.read()
    try:
        img = Image.open(io.BytesIO(media) if isinstance(media, bytes) else media)
        img.load()
        return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise PairDataError(f"{name} cannot be read as an image: {e}") from None


def _open_video(media: Media, name: str, num_frames: int = 1):
    from unireward.media import MediaError, load_video

    if not isinstance(media, str):
        raise PairDataError(f"{name}: videos must be file paths")
    try:
        return load_video(media, num_frames, name=name)
    except (MediaError, OSError) as e:
        raise PairDataError(f"{name} cannot be read as a video: {e}") from None


def load_pixels_checker(kind: str) -> Callable[[Media, str], Any]:
    def check(media: Media, name: str) -> None:
        try:
            _open_image(media, name) if kind == "image" else _open_video(media, name)
        except PairDataError as e:
            raise ValueError(str(e).split(": ", 1)[-1]) from None
    return check


def fit(img, height: int, width: int) -> np.ndarray:
    """Resize `img` to cover (height, width), centre-crop, and scale to [-1, 1] as a (3, H, W) array."""
    from PIL import Image

    scale = max(height / img.height, width / img.width)
    size = (max(width, round(img.width * scale)), max(height, round(img.height * scale)))
    img = img.resize(size, Image.Resampling.BILINEAR)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    a = np.asarray(img.crop((left, top, left + width, top + height)), dtype=np.float32)
    return a.transpose(2, 0, 1) / 127.5 - 1.0


def media_pixels(media: Media, name: str, kind: str, size: tuple[int, int], num_frames: int) -> torch.Tensor:
    """(3, H, W) for an image, (F, 3, H, W) for a video, in [-1, 1]."""
    h, w = size
    if kind == "image":
        return torch.from_numpy(fit(_open_image(media, name), h, w))
    frames = _open_video(media, name, num_frames)
    if len(frames) != num_frames:
        raise PairDataError(f"{name}: has {len(frames)} frames, {num_frames} needed")
    return torch.from_numpy(np.stack([fit(f.convert("RGB"), h, w) for f in frames]))


def media_size(media: Media, kind: str, name: str) -> tuple[int, int]:
    """(height, width) of an image or of a video's frames."""
    img = _open_image(media, name) if kind == "image" else _open_video(media, name)[0]
    return img.height, img.width


# ---------------------------------------------------------------------- latent cache
def media_key(media: Media) -> str:
    if isinstance(media, TableMedia):
        media = media.read()
    data = media if isinstance(media, bytes) else Path(media).read_bytes()
    return hashlib.sha256(data).hexdigest()[:32]


class LatentCache:
    """VAE posteriors on disk, one ``.pt`` file per (content, encoding signature)."""

    def __init__(self, folder: Path, signature: str):
        self.folder = folder
        self.signature = hashlib.sha256(signature.encode()).hexdigest()[:12]
        folder.mkdir(parents=True, exist_ok=True)
        self._keys: dict[str, str] = {}

    def path(self, media: Media) -> Path:
        key = self._keys.get(media) if isinstance(media, str) else None
        if key is None:
            key = media_key(media)
            if isinstance(media, str):
                self._keys[media] = key
        return self.folder / f"{key}-{self.signature}.pt"

    def get(self, media: Media) -> torch.Tensor | None:
        p = self.path(media)
        return torch.load(p, weights_only=True) if p.is_file() else None

    def put(self, media: Media, params: torch.Tensor) -> None:
        p = self.path(media)
        tmp = p.with_name(f".{p.name}.tmp")
        torch.save(params.cpu().contiguous(), tmp)
        tmp.replace(p)
