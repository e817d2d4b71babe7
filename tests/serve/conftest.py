"""Real uvicorn servers on 127.0.0.1 backed by tiny real-architecture models, and request helpers."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import random_image


@pytest.fixture(scope="session")
def qwen_judge(tiny_qwen):
    """One loaded tiny Qwen2.5-VL judge shared by the servers of this folder."""
    from unireward.judges.hf import HFJudge

    return HFJudge(tiny_qwen)


@pytest.fixture(scope="session")
def served(qwen_judge):
    """A server with the default limits, no API key, no URL fetching."""
    from unireward.serve.openai_compat import BackgroundServer

    with BackgroundServer(qwen_judge, served_name="tiny") as srv:
        yield srv


@pytest.fixture(scope="session")
def llava_int_eos(tiny_models, tmp_path_factory) -> str:
    """The tiny LLaVA-OneVision with ``eos_token_id`` an int, as in every llava-hf LLaVA-OneVision checkpoint."""
    path = tmp_path_factory.mktemp("llava") / "int-eos"
    shutil.copytree(tiny_models["llava_onevision"], path)
    cfg_file = Path(path) / "generation_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["eos_token_id"] = cfg["eos_token_id"][0]
    cfg_file.write_text(json.dumps(cfg))
    return str(path)


def png_bytes(seed: int = 0, size: int = 64) -> bytes:
    buf = io.BytesIO()
    random_image(seed, size).save(buf, format="PNG")
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def user(text: str = "Describe the image.", *images: str) -> list[dict]:
    """One user message: image parts (URLs) first, then the text."""
    return [{"role": "user", "content": [image_part(u) for u in images] + [{"type": "text", "text": text}]}]


def chat(url: str, body: dict | bytes, timeout: float = 60, **kw) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.post(f"{url}/v1/chat/completions", content=body, timeout=timeout,
                          headers={"content-type": "application/json", **kw.pop("headers", {})}, **kw)
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=timeout, **kw)


def error_of(r: httpx.Response) -> dict:
    return r.json()["error"]


@pytest.fixture
def small_png() -> str:
    return data_url(png_bytes())


def png_bomb(width: int, height: int) -> bytes:
    """A valid, highly compressed all-black RGB PNG: a few dozen KB that decode to width*height*3 bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z, row, idat = zlib.compressobj(9), b"\x00" * (1 + 3 * width), b""
    for _ in range(height):
        idat += z.compress(row)
    idat += z.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
