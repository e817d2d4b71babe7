"""Request limits for every unireward server, and the ASGI guard that enforces the body-size limit.

Design choices a user will notice:
- Limits are data (`Limits`), set from the command line or in code; defaults suit a judge server: a
  20 MB body, 64 images per request (two 16-frame videos fit twice), 16.8 M declared pixels per image
  (4096x4096; checked from the image header BEFORE decoding, so a decompression bomb costs nothing),
  4096 new tokens, n <= 8, 1000 top log-probabilities (a judge reads answer options from them), a
  120 s per-request timeout and at most 64 requests waiting for the model. The reward server adds 256
  judgments per request, 16 candidates per group, 64 frames and 64 MB per video; its batching queue is
  bounded separately, in judgments (`unireward.serve.batcher.BatchConfig.max_pending`).
- The body limit is checked on ``Content-Length`` and again while reading (chunked uploads), before any
  JSON parsing or authentication-independent work: an oversized body answers 413 and is never buffered
  past the limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from unireward.serve.errors import error_body


MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 20 * MB
    max_images: int = 64  # images per request (video frames count one each)
    max_image_pixels: int = 4096 * 4096  # declared width*height, checked before decoding
    max_image_bytes: int = 20 * MB  # one encoded image, inline or fetched
    max_tokens: int = 4096  # new tokens per choice
    max_n: int = 8
    max_stop: int = 4  # stop strings, as OpenAI
    max_stop_chars: int = 256  # characters per stop string
    max_top_logprobs: int = 1000
    max_logprob_entries: int = 65_536  # max_tokens * top_logprobs * n: the size of the logprobs answer
    request_timeout: float = 120.0  # seconds, queueing included
    max_queue: int = 64  # requests waiting for the model; more answer 429
    max_context: int | None = None  # tokens; None: the model config's max_position_embeddings
    fetch_timeout: float = 10.0  # seconds for one image URL
    # reward server (`unireward serve`) only
    max_items: int = 256  # judgments asked for in one request (pairs, candidates, or a group's pairs)
    max_group: int = 16  # candidates in one group (G); a group of G costs G(G-1)/2 pairs, twice with both orders
    max_frames: int = 64  # frames in one video (a frame list, or a video file's declared frame count)
    max_video_bytes: int = 64 * MB  # one encoded video file (inline)

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if value is not None and value <= 0:
                raise ValueError(f"limit {name} must be positive, got {value}")


class BodyLimit:
    """ASGI middleware: refuse request bodies over `max_bytes` with 413, before the app sees them."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await _refuse(send, declared.decode(errors="replace"), self.max_bytes)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _refuse(send, f"more than {self.max_bytes}", self.max_bytes)
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: disconnect notices, as from the server

    return replay


async def _refuse(send: Any, size: str, limit: int) -> None:
    body = json.dumps(error_body(413, f"request body is {size} bytes, over the limit of {limit} bytes "
                                      "(--max-body-mb)")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
