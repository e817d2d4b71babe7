"""Reading RL trainers' reward inputs, and writing media for the reward server.

TRL calls a reward function as ``f(prompts, completions, completion_ids=..., **columns)``: prompts and
completions are strings (standard datasets) or message lists (conversational: ``[{"role", "content"}]``,
content a string or typed blocks), and every other dataset column arrives as a list with one entry per
completion (``image`` one image, ``images`` a list, ``video``/``videos``). Generation policies (Flow-GRPO
style) pass the generated media as the completions: PIL images, uint8 ``H x W x C`` arrays, float
``C x H x W`` tensors in [0, 1], frame lists, or file paths.

Design choices a user will notice:
- The prompt a judge sees is the text of the user turns (image placeholders dropped); a completion's text
  is its assistant content.
- The task is inferred when not given: text completions are understanding (video when a ``video(s)``
  column is present), media completions generation (video for frame lists and video files).
- For HTTP, media become base64 data URLs: images as PNG (lossless), video files as ``data:video/...``,
  frame lists as lists of PNG data URLs; strings that already are ``data:`` or ``http(s)`` URLs pass as is.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from unireward.tasks import Task


VIDEO_SUFFIXES = {".mp4": "mp4", ".webm": "webm", ".mov": "quicktime", ".mkv": "x-matroska", ".avi": "x-msvideo"}


def text_of(x: Any) -> str:
    """The text of a prompt or completion: a string, a message list, or a content block list."""
    if isinstance(x, str):
        return x
    if isinstance(x, dict):
        return text_of(x.get("content", x.get("text", "")))
    if isinstance(x, list):
        if x and isinstance(x[0], dict) and "role" in x[0]:
            roles = [m for m in x if m.get("role") in ("user", "assistant")] or x
            return "\n".join(t for t in (text_of(m.get("content", "")) for m in roles) if t)
        return "".join(b.get("text") or "" if isinstance(b, dict) else str(b) for b in x)
    raise TypeError(f"cannot read text from a {type(x).__name__}")


def media_for(kwargs: dict[str, Any], k: int, modality: str) -> Any:
    """The shared image(s) or video of completion `k` from the trainer's columns (None when absent)."""
    keys = ("videos", "video") if modality == "video" else ("images", "image")
    for key in keys:
        column = kwargs.get(key)
        if column is not None and k < len(column) and column[k] is not None:
            value = column[k]
            if key == "images" and isinstance(value, list) and len(value) == 1:
                return value[0]
            if key == "videos" and isinstance(value, list) and len(value) == 1 and not _is_frame(value[0]):
                return value[0]
            return value
    return None


def _is_frame(x: Any) -> bool:
    from PIL import Image

    return isinstance(x, Image.Image)


def infer_task(completions: list[Any], kwargs: dict[str, Any]) -> Task:
    """Understanding for text completions, generation for media; video where the data says so."""
    first = completions[0] if completions else ""
    is_text = isinstance(first, str) and not _is_media_path(first) or isinstance(first, (list, dict)) and \
        _is_messages(first)
    if is_text:
        video = any(kwargs.get(k) is not None for k in ("video", "videos"))
        return Task.VIDEO_UNDERSTANDING if video else Task.IMAGE_UNDERSTANDING
    return Task.VIDEO_GENERATION if _is_video(first) else Task.IMAGE_GENERATION


def _is_messages(x: Any) -> bool:
    return isinstance(x, dict) and "content" in x or isinstance(x, list) and bool(x) and isinstance(x[0], dict)


def _is_media_path(x: str) -> bool:
    return x.startswith(("data:image/", "data:video/")) or Path(x).suffix.lower() in \
        {*VIDEO_SUFFIXES, ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"} and Path(x).is_file()


def _is_video(x: Any) -> bool:
    if isinstance(x, (str, Path)):
        return str(x).startswith("data:video/") or Path(str(x)).suffix.lower() in VIDEO_SUFFIXES
    if isinstance(x, list):
        return True
    shape = getattr(x, "shape", None)
    return shape is not None and len(shape) == 4  # T x H x W x C (or T x C x H x W)


def to_image(x: Any) -> Any:
    """A PIL image from a PIL image, a uint8 H x W x C array, or a float C x H x W tensor in [0, 1]."""
    import numpy as np
    from PIL import Image

    if isinstance(x, Image.Image) or isinstance(x, (str, Path, bytes)):
        return x
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().float().cpu().numpy()
        if x.ndim == 3 and x.shape[0] in (1, 3, 4) and x.shape[-1] not in (1, 3, 4):
            x = x.transpose(1, 2, 0)
        x = (np.clip(x, 0, 1) * 255).round().astype(np.uint8)
    if isinstance(x, np.ndarray):
        return Image.fromarray(x.squeeze(-1) if x.ndim == 3 and x.shape[-1] == 1 else x)
    raise TypeError(f"cannot use a {type(x).__name__} as an image")


def to_media(x: Any, modality: str) -> Any:
    """A medium the judge accepts: an image, or a video (a file path or a list of frames)."""
    if modality == "image":
        return to_image(x)
    if isinstance(x, (str, Path)):
        return x
    return [to_image(f) for f in x]


# ---------------------------------------------------------------------- media for HTTP
def to_ref(x: Any, modality: str) -> str | list[str]:
    """A media reference for the reward server: data URLs (PNG images, video files), lists for frames."""
    if isinstance(x, str) and x.startswith(("data:", "http://", "https://")):
        return x
    if modality == "video":
        if isinstance(x, (str, Path)):
            path = Path(x)
            mime = VIDEO_SUFFIXES.get(path.suffix.lower(), "mp4")
            return f"data:video/{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"
        return [image_url(f) for f in x]
    if isinstance(x, (list, tuple)):
        return [image_url(f) for f in x]
    return image_url(x)


def image_url(x: Any) -> str:
    """A PNG data URL of an image (PIL, array, tensor, bytes or a file path)."""
    from PIL import Image

    if isinstance(x, str) and x.startswith(("data:", "http://", "https://")):
        return x
    if isinstance(x, (str, Path)):
        x = Path(x).read_bytes()
    if isinstance(x, bytes):
        x = Image.open(io.BytesIO(x))
    img = to_image(x)
    buf = io.BytesIO()
    (img if img.mode in ("RGB", "RGBA", "L") else img.convert("RGB")).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
