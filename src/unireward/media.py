"""Loading images and videos, sampling frames, size limits and content hashes.

Design choices a user will notice:
- An image is a path, bytes or a PIL image; a video is a file path (decoded with PyAV) or a list of frames
  (each anything an image can be). Everything comes back as RGB PIL images.
- Videos are sampled to K frames (default 8) at uniformly spaced indices, first and last frame included,
  as the released checkpoints were trained. A video shorter than K frames repeats frames rather than
  feeding fewer.
- Images larger than `max_pixels` are downscaled (aspect ratio kept) to the judge's pixel budget; images
  whose header declares more than `MAX_DECODE_PIXELS` are refused before decoding (decompression bombs).
- Every failure raises `MediaError` naming the file (or "<bytes>", "<frame 3>").
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image


ImageLike = Union[str, Path, bytes, Image.Image, np.ndarray]
VideoLike = Union[str, Path, Sequence[ImageLike]]

MAX_DECODE_PIXELS = 64_000_000  # refuse to decode anything declaring more (PIL's own bomb limit is ~179M)
DEFAULT_FRAMES = 8


class MediaError(ValueError):
    """A media item could not be used; the message names the item and the problem."""


class MissingMediaError(MediaError, FileNotFoundError):
    """A media file is not where the item says it is."""


def _name(src: object) -> str:
    if isinstance(src, (str, Path)):
        return str(src)
    if isinstance(src, bytes):
        return f"<{len(src)} bytes>"
    return f"<{type(src).__name__}>"


def load_image(src: ImageLike, max_pixels: int | None = None, name: str | None = None) -> Image.Image:
    """Open `src` as an RGB image, fully decoded; downscale to `max_pixels` if given."""
    name = name or _name(src)
    if isinstance(src, Image.Image):
        img = src
    elif isinstance(src, np.ndarray):
        if src.ndim != 3 or src.shape[-1] not in (3, 4):
            raise MediaError(f"{name}: expected an HxWx3 array, got shape {src.shape}")
        img = Image.fromarray(src.astype(np.uint8))
    else:
        img = _open_encoded(src, name)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return resize_to_budget(img, max_pixels) if max_pixels else img


def _open_encoded(src: str | Path | bytes, name: str) -> Image.Image:
    if isinstance(src, (str, Path)):
        if not Path(src).is_file():
            raise MissingMediaError(f"{name}: file not found")
        fp: object = src
    elif isinstance(src, bytes):
        fp = io.BytesIO(src)
    else:
        raise MediaError(f"{name}: not an image (expected a path, bytes or a PIL image)")
    try:
        img = Image.open(fp)
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, DecompressionBombError ...
        raise MediaError(f"{name}: cannot open image ({e})") from None
    w, h = img.size
    if w * h > MAX_DECODE_PIXELS:
        raise MediaError(f"{name}: image is {w}x{h} = {w * h:,} pixels, over the limit of {MAX_DECODE_PIXELS:,}")
    try:
        img.load()  # decode now, so truncated files fail here and not inside a batch
    except Exception as e:
        raise MediaError(f"{name}: corrupt or truncated image ({e})") from None
    return img


def resize_to_budget(img: Image.Image, max_pixels: int) -> Image.Image:
    """Downscale so that width*height <= max_pixels, keeping the aspect ratio; never upscale."""
    w, h = img.size
    if w * h <= max_pixels:
        return img
    f = math.sqrt(max_pixels / (w * h))
    return img.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BICUBIC)


def uniform_indices(n: int, k: int) -> list[int]:
    """K indices spread evenly over n frames, first and last included (repeats when n < k)."""
    if n <= 0:
        raise ValueError("no frames")
    if k == 1:
        return [0]
    return [round(i * (n - 1) / (k - 1)) for i in range(k)]


def load_video(src: VideoLike, num_frames: int = DEFAULT_FRAMES, max_pixels: int | None = None,
               name: str | None = None) -> list[Image.Image]:
    """Sample `num_frames` RGB frames from a video file or a list of frames."""
    name = name or _name(src)
    if isinstance(src, (str, Path)):
        frames = _decode_video(Path(src), num_frames, name)
    elif isinstance(src, Sequence) and not isinstance(src, bytes):
        if len(src) == 0:
            raise MediaError(f"{name}: video has no frames")
        idx = uniform_indices(len(src), num_frames)
        frames = [load_image(src[i], name=f"{name} frame {i}") for i in idx]
    else:
        raise MediaError(f"{name}: not a video (expected a file path or a list of frames)")
    return [resize_to_budget(f, max_pixels) for f in frames] if max_pixels else frames


def _decode_video(path: Path, num_frames: int, name: str) -> list[Image.Image]:
    import av

    if not path.is_file():
        raise MissingMediaError(f"{name}: file not found")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{name}: no video stream")
            stream = container.streams.video[0]
            n = stream.frames or sum(1 for p in container.demux(stream) if p.size)  # some containers omit it
        if n == 0:
            raise MediaError(f"{name}: video has no frames")
        wanted = uniform_indices(n, num_frames)
        picked: dict[int, Image.Image] = {}
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in wanted:
                    picked[i] = frame.to_image()
                if i >= wanted[-1]:
                    break
    except MediaError:
        raise
    except Exception as e:  # av.error.InvalidDataError and friends
        raise MediaError(f"{name}: corrupt or unreadable video ({e})") from None
    if not picked:
        raise MediaError(f"{name}: video has no decodable frames")
    last = max(picked)  # a truncated file may hold fewer frames than its header says
    return [picked.get(i, picked[last]) if i <= last else picked[last] for i in wanted]


def content_hash(item: ImageLike | VideoLike) -> str:
    """A stable sha256 hex digest of a media item's content (file bytes, image pixels, or frame hashes)."""
    h = hashlib.sha256()
    if isinstance(item, (str, Path)):
        path = Path(item)
        if not path.is_file():
            raise MissingMediaError(f"{item}: file not found")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    elif isinstance(item, bytes):
        h.update(item)
    elif isinstance(item, Image.Image):
        h.update(f"{item.mode}{item.size}".encode())
        h.update(item.tobytes())
    elif isinstance(item, np.ndarray):
        h.update(f"{item.dtype}{item.shape}".encode())
        h.update(np.ascontiguousarray(item).tobytes())
    elif isinstance(item, Sequence):
        h.update(b"frames")
        for frame in item:
            h.update(content_hash(frame).encode())
    else:
        raise MediaError(f"{_name(item)}: cannot hash this media type")
    return h.hexdigest()


def write_video(path: str | Path, frames: Sequence[Image.Image | np.ndarray], fps: int = 8) -> Path:
    """Write frames to an mp4 (H.264, yuv420p) with PyAV; sizes are rounded down to even numbers."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = [np.asarray(f.convert("RGB") if isinstance(f, Image.Image) else f, dtype=np.uint8) for f in frames]
    h, w = (arrays[0].shape[0] // 2) * 2, (arrays[0].shape[1] // 2) * 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for a in arrays:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(a[:h, :w]), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
