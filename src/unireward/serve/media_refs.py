"""Media references in reward-server requests, decoded once per request by content hash.

A reference is a string or a list of strings:
- an image: ``data:image/...;base64,...`` or an ``http(s)`` URL (fetched only under the server's `UrlPolicy`);
- a video: ``data:video/...;base64,...`` (an mp4/webm file, decoded with PyAV) or a list of frame images
  (each one an image reference);
- several shared images (image understanding): a list of image references.

Design choices a user will notice:
- The same rules as the OpenAI-compatible server, from the same code: base64 checked before decoding,
  declared pixels checked from the header (a decompression bomb costs nothing), remote fetching off unless
  the host is allowed, never ``file://`` or private/link-local addresses (`unireward.serve.images`,
  `unireward.serve.security`). Every refusal is a 400 naming the field (``candidates[3]``, ``items[0].a``).
- Decoding is cached per request by the sha256 of the bytes: in a group of G candidates every image or
  video is decoded and resized once, however many of the G(G-1) ordered pairs it appears in, and a frame
  repeated across a batch of items is decoded once. ``cache=False`` (``--no-media-cache``) decodes every
  occurrence; the load test measures the difference. `decoded` and `reused` count what happened.
- A video's frames are sampled to the judge's frame count BEFORE decoding (a 64-frame list costs 8
  decodes), and a video file's declared size and frame count are checked before any frame is decoded.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any

from PIL import Image

from unireward.media import MAX_DECODE_PIXELS, uniform_indices
from unireward.serve.errors import bad_request
from unireward.serve.images import decode_data_url, decode_image
from unireward.serve.limits import Limits
from unireward.serve.security import UrlPolicy, fetch


Ref = str | list[str]


class MediaDecoder:
    """Decodes the media references of one request (`cache`: by content hash)."""

    def __init__(self, limits: Limits, policy: UrlPolicy, budget: int | None, num_frames: int, cache: bool = True):
        self.limits, self.policy, self.budget, self.num_frames = limits, policy, budget, num_frames
        self.cache_on = cache
        self._cache: dict[str, Any] = {}
        self._fetched: dict[str, bytes] = {}
        self.decoded = 0  # images and videos decoded
        self.reused = 0  # occurrences served from the cache

    async def media(self, ref: Ref, modality: str, param: str, shared: bool = False) -> Any:
        """The PIL image, list of images (`shared` images), or list of frames (video) `ref` names."""
        if modality == "video":
            return await self.video(ref, param)
        if isinstance(ref, list):
            if not shared:
                raise bad_request(param, "an image is one reference string, not a list")
            if len(ref) > self.limits.max_images:
                raise bad_request(param, f"{len(ref)} images, over the limit of {self.limits.max_images}")
            return [await self.image(r, f"{param}[{k}]") for k, r in enumerate(ref)]
        return await self.image(ref, param)

    async def image(self, ref: str, param: str) -> Image.Image:
        data = await self._bytes(ref, param, self.limits.max_image_bytes)
        return await self._cached(("image", data), lambda: decode_image(data, param, self.limits.max_image_pixels,
                                                                        self.budget))

    async def video(self, ref: Ref, param: str) -> list[Image.Image]:
        if isinstance(ref, list):
            if not ref:
                raise bad_request(param, "a video needs at least one frame")
            if len(ref) > self.limits.max_frames:
                raise bad_request(param, f"{len(ref)} frames, over the limit of {self.limits.max_frames} per video")
            picks = uniform_indices(len(ref), self.num_frames)
            return [await self.image(ref[i], f"{param}[{i}]") for i in picks]
        if not ref[:11].lower().startswith("data:video/"):
            raise bad_request(param, "a video is a base64 data URL (data:video/mp4;base64,...) or a list of frame "
                                     "images")
        data = decode_data_url_any(ref, param, self.limits.max_video_bytes)
        return await self._cached(("video", data), lambda: decode_video_bytes(data, param, self.limits,
                                                                              self.num_frames, self.budget))

    async def _bytes(self, ref: str, param: str, max_bytes: int) -> bytes:
        if not isinstance(ref, str) or not ref:
            raise bad_request(param, "expected a media reference string (a data URL or an allowed http(s) URL)")
        if ref[:5].lower() == "data:":
            return decode_data_url(ref, param, max_bytes)
        if ref not in self._fetched:
            self._fetched[ref] = await fetch(self.policy, ref, param, max_bytes, self.limits.fetch_timeout)
        return self._fetched[ref]

    async def _cached(self, key: tuple[str, bytes], make: Any) -> Any:
        import anyio

        digest = f"{key[0]}:{hashlib.sha256(key[1]).hexdigest()}"
        if self.cache_on and digest in self._cache:
            self.reused += 1
            return self._cache[digest]
        value = await anyio.to_thread.run_sync(make)
        self.decoded += 1
        if self.cache_on:
            self._cache[digest] = value
        return value


def decode_data_url_any(url: str, param: str, max_bytes: int) -> bytes:
    """A base64 data URL of any media type (videos here), checked like image data URLs."""
    header, sep, payload = url.partition(",")
    if not sep or "base64" not in [m.strip().lower() for m in header[5:].split(";")[1:]]:
        raise bad_request(param, "only base64 data URLs are accepted (data:video/mp4;base64,...)")
    if len(payload) * 3 // 4 > max_bytes:
        raise bad_request(param, f"the video is about {len(payload) * 3 // 4} bytes, over the limit of {max_bytes}")
    import base64
    import binascii

    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise bad_request(param, f"invalid base64 in the data URL ({e})") from None


def decode_video_bytes(data: bytes, param: str, limits: Limits, num_frames: int, budget: int | None) -> list:
    """Check a video file's declared size and frame count, then sample and decode `num_frames` frames."""
    import av

    from unireward.media import MediaError, load_video

    fd, path = tempfile.mkstemp(suffix=".video")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            with av.open(path) as container:
                if not container.streams.video:
                    raise bad_request(param, "the file has no video stream")
                stream = container.streams.video[0]
                w, h = stream.codec_context.width, stream.codec_context.height
                n = stream.frames or sum(1 for p in container.demux(stream) if p.size)
        except av.error.FFmpegError as e:
            raise bad_request(param, f"not a readable video ({type(e).__name__}: {e})") from None
        pixels = min(limits.max_image_pixels, MAX_DECODE_PIXELS)
        if w * h > pixels:
            raise bad_request(param, f"the video is {w}x{h} = {w * h:,} pixels per frame, over the limit of "
                                     f"{pixels:,}")
        if n > limits.max_frames:
            raise bad_request(param, f"the video declares {n} frames, over the limit of {limits.max_frames}")
        try:
            return load_video(path, num_frames, budget, name=param)
        except (MediaError, OSError) as e:
            raise bad_request(param, f"corrupt or unreadable video ({e})") from None
    finally:
        os.unlink(path)
