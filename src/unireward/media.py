"""Loading images and videos, sampling frames, size limits and content hashes.

Design choices a user will notice:
- An image is a path, bytes or a PIL image; a video is a file path (decoded with PyAV) or a list of frames
  (each anything an image can be). Everything comes back as RGB PIL images.
- Videos are sampled to K frames (default 8) at uniformly spaced indices, first and last frame included,
  as the released checkpoints were trained. A video shorter than K frames repeats frames rather than
  feeding fewer.
- Images larger than `max_pixels` are downscaled (aspect ratio kept) to the judge's pixel budget; images
  whose header declares more than `MAX_DECODE_PIXELS` are refused before decoding (decompression bombs).
- Transparent pixels (RGBA, LA, PA, palette or colour-key transparency, video frames with an alpha plane) are
  composited on `BACKGROUND` (white), never reduced to the colours hidden under them.
- 16-bit and 32-bit integer images (PIL modes ``I;16*`` and ``I``: 16-bit greyscale PNGs and TIFFs) and
  ``uint16`` arrays are scaled from the 16-bit range to 8 bits (v / 257, rounded: 65535 -> 255), not clipped
  at 255 (which turns them white); ``I`` values outside 0..65535 are clipped to it.
- Every failure raises `MediaError` naming the file (or "<bytes>", "<frame 3>").
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image


ImageLike = Union[str, Path, bytes, Image.Image, np.ndarray]
VideoLike = Union[str, Path, Sequence[ImageLike]]

MAX_DECODE_PIXELS = 64_000_000  # refuse to decode anything declaring more (PIL's own bomb limit is ~179M)
DEFAULT_FRAMES = 8
BACKGROUND = (255, 255, 255)  # what transparent pixels are composited on
_WIDE_INT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


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
        img = _from_array(src, name)
    else:
        img = open_image(src, name)
    img = to_rgb(img)
    return resize_to_budget(img, max_pixels) if max_pixels else img


def to_rgb(img: Image.Image, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """An 8-bit RGB copy of `img`: wide integer modes scaled to 8 bits, transparency composited on `background`."""
    if img.mode in _WIDE_INT_MODES:
        img = Image.fromarray(_scale16(np.asarray(img)), "L")
    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.has_transparency_data:
        canvas = Image.new("RGBA", img.size, (*background, 255))
        return Image.alpha_composite(canvas, img.convert("RGBA")).convert("RGB")
    return img.convert("RGB")


def _scale16(a: np.ndarray) -> np.ndarray:
    """Values in the 16-bit range (clipped to it) to uint8, 65535 -> 255."""
    return np.rint(np.clip(a.astype(np.float64), 0, 65535) / 257).astype(np.uint8)


def _from_array(a: np.ndarray, name: str) -> Image.Image:
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise MediaError(f"{name}: expected an HxWx3 or HxWx4 array, got shape {a.shape}")
    if a.dtype == np.uint16:
        a = _scale16(a)
    elif a.dtype != np.uint8:
        if a.size and (a.min() < 0 or a.max() > 255):
            raise MediaError(f"{name}: {a.dtype} array values must lie in 0..255 (or pass uint16 for 16 bits), "
                             f"got {a.min()}..{a.max()}")
        a = a.astype(np.uint8)
    return Image.fromarray(a, "RGB" if a.shape[-1] == 3 else "RGBA")


def open_image(src: str | Path | bytes, name: str) -> Image.Image:
    """Open and fully decode an encoded image (file or bytes) in its own mode, refusing decompression bombs."""
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


FrameRule = Callable[[int, int], list[int]]  # (frames in the video, frames wanted) -> indices


def uniform_indices(n: int, k: int) -> list[int]:
    """K indices spread evenly over n frames, first and last included (repeats when n < k)."""
    if n <= 0:
        raise ValueError("no frames")
    if k == 1:
        return [0]
    return [round(i * (n - 1) / (k - 1)) for i in range(k)]


def load_video(src: VideoLike, num_frames: int = DEFAULT_FRAMES, max_pixels: int | None = None,
               name: str | None = None, indices: FrameRule | None = None) -> list[Image.Image]:
    """Sample `num_frames` RGB frames from a video file or a list of frames. `indices(n, k)` picks which of
    the n frames (default `uniform_indices`; a reward model with its own reference rule passes that)."""
    name, indices = name or _name(src), indices or uniform_indices
    if isinstance(src, (str, Path)):
        frames = _decode_video(Path(src), num_frames, name, indices)
    elif isinstance(src, Sequence) and not isinstance(src, bytes):
        if len(src) == 0:
            raise MediaError(f"{name}: video has no frames")
        idx = indices(len(src), num_frames)
        frames = [load_image(src[i], name=f"{name} frame {i}") for i in idx]
    else:
        raise MediaError(f"{name}: not a video (expected a file path or a list of frames)")
    return [resize_to_budget(f, max_pixels) for f in frames] if max_pixels else frames


def _decode_video(path: Path, num_frames: int, name: str, indices: FrameRule) -> list[Image.Image]:
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
        wanted = sorted(set(indices(n, num_frames)))
        picked: dict[int, Image.Image] = {}
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in wanted:
                    picked[i] = _frame_image(frame)
                if i >= wanted[-1]:
                    break
    except MediaError:
        raise
    except Exception as e:  # av.error.InvalidDataError and friends
        raise MediaError(f"{name}: corrupt or unreadable video ({e})") from None
    if not picked:
        raise MediaError(f"{name}: video has no decodable frames")
    last = max(picked)  # a truncated file may hold fewer frames than its header says
    return [picked.get(i, picked[last]) if i <= last else picked[last] for i in indices(n, num_frames)]


def _frame_image(frame) -> Image.Image:
    """A decoded PyAV frame as RGB; an alpha plane (yuva420p, rgba, ...) is composited, not dropped."""
    if any(c.is_alpha for c in frame.format.components):
        return to_rgb(Image.fromarray(frame.to_ndarray(format="rgba"), "RGBA"))
    return frame.to_image()  # swscale converts any bit depth and colour space to rgb24


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
