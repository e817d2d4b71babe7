"""A content-addressed media folder: images and videos written once, under the sha256 of their bytes.

Used by the source adapters (``media/<source>``), the benchmark loaders (``media/<benchmark>``) and the
exports (``media``). Design choices a user will notice:
- Files are named ``<prefix>/<ab>/<sha256>.<ext>``, so the same image met twice is stored once and a re-run
  writes nothing new; paths in the returned record items are relative to the store's root folder.
- Embedded image bytes are decoded once to check them before they are written (truncated or corrupt bytes,
  decompression bombs fail with `MediaError` naming the item); videos are opened to check for a stream.
- Files on disk are hard-linked when possible (same filesystem), copied otherwise; every write goes through
  a temporary name, so a killed job never leaves a half-written file under a final name.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from unireward.media import MediaError, MissingMediaError, content_hash, open_image


def existing_file(path: Path, name: str) -> Path:
    if not Path(path).is_file():
        raise MissingMediaError(f"{name}: file {path} not found")
    return Path(path)


_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG", ".png"), (b"GIF8", ".gif"), (b"BM", ".bmp"))
_FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


def _sniff(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    return next((ext for magic, ext in _MAGIC if head.startswith(magic)), None)


def check_image(data: bytes, name: str) -> str:
    """Decode `data` fully (truncated, corrupt or oversized images fail here) and return its file extension."""
    img = open_image(data, name)
    return _FORMAT_EXT.get(img.format or "", f".{(img.format or 'img').lower()}")


def check_video(path: Path, name: str) -> None:
    """Open the container and check it has a video stream (no decoding: that happens at export)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{name}: {path} has no video stream")
    except MediaError:
        raise
    except Exception as e:
        raise MediaError(f"{name}: unreadable video {path} ({e})") from None


def write_atomic(target: Path, content: bytes | Path) -> None:
    """Write bytes, or hard-link (else copy) a file, to `target` through a temporary name."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    if isinstance(content, Path):
        try:
            os.link(content, tmp)  # same filesystem: no copy at all
        except OSError:
            shutil.copyfile(content, tmp)
    else:
        tmp.write_bytes(content)
    os.replace(tmp, target)


class MediaStore:
    """Writes media under ``<out>/<prefix>/`` with content-hash names; returns record media items.

    Paths in the returned items are relative to `out` (the folder of records.jsonl). Conversions use the
    prefix ``media/<source>``, exports ``media``.
    """

    def __init__(self, out: Path, prefix: str):
        self.out, self.prefix = Path(out), prefix
        self.written = 0  # new files, for the summary
        self._dirs: set[Path] = set()  # shard folders already created

    def _target(self, digest: str, ext: str) -> tuple[str, Path]:
        rel = f"{self.prefix}/{digest[:2]}/{digest}{ext}"
        return rel, self.out / rel

    def image(self, data: bytes | Path, name: str) -> dict[str, str]:
        """An image from embedded bytes or a file; decoded once to check it (skipped when already stored)."""
        if isinstance(data, Path):
            existing_file(data, name)
            with open(data, "rb") as f:
                head = f.read(16)
            digest = content_hash(data)
        else:
            head, digest = data[:16], content_hash(data)
        ext = _sniff(head)
        if ext:
            rel, path = self._target(digest, ext)
            if path.exists():
                return {"image": rel}
        ext = check_image(data.read_bytes() if isinstance(data, Path) else data, name)
        rel, path = self._target(digest, ext)
        if not path.exists():
            self._write(path, data)
        return {"image": rel}

    def video(self, path: Path, name: str) -> dict[str, str]:
        existing_file(path, name)
        rel, target = self._target(content_hash(path), path.suffix.lower() or ".mp4")
        if not target.exists():
            check_video(path, name)
            self._write(target, path)
        return {"video": rel}

    def frames(self, paths: Iterable[Path], name: str) -> dict[str, list[str]]:
        return {"frames": [self.image(p, f"{name} frame {i}")["image"] for i, p in enumerate(paths)]}

    def _write(self, target: Path, content: bytes | Path) -> None:
        if target.parent not in self._dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(target.parent)
        write_atomic(target, content)
        self.written += 1
