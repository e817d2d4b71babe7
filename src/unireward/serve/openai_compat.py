"""A small OpenAI-compatible chat-completions server over any transformers VLM (the `hf` backend's model).

It serves `GET /v1/models` and `POST /v1/chat/completions` with the parts the `openai` judge backend uses:
base64 ``image_url`` parts, ``max_tokens``, greedy decoding, ``logprobs``/``top_logprobs``, and vLLM's
``continue_final_message`` (continue an assistant prefix). It exists to run a judge over HTTP where vLLM
cannot run (CPU machines, tests); on GPUs use vLLM or SGLang. One request at a time; no batching.

    python -m unireward.serve.openai_compat MODEL_DIR --port 8000
"""

from __future__ import annotations

import base64
import io
import threading
import time
from typing import Any

from PIL import Image


def _decode_image(url: str) -> Image.Image:
    if not url.startswith("data:"):
        raise ValueError("only base64 data URLs are supported")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")


def _split(messages: list[dict]) -> tuple[Any, str]:
    """The judge request (text + images of the user turn, optional system) and the assistant prefix."""
    from unireward.judges.base import Request

    req, prefix = Request(text=""), ""
    for m in messages:
        content = m["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if m["role"] == "system":
            req.system = "".join(p.get("text", "") for p in parts)
        elif m["role"] == "user":
            for p in parts:
                if p["type"] == "image_url":
                    req.images.append(_decode_image(p["image_url"]["url"]))
                elif p["type"] == "text":
                    req.text += p["text"]
        elif m["role"] == "assistant":
            prefix = "".join(p.get("text", "") for p in parts)
    return req, prefix


def create_app(model_dir: str, served_name: str | None = None):
    import torch
    from fastapi import FastAPI, HTTPException

    from unireward.judges.hf import HFJudge

    judge = HFJudge(model_dir)
    name = served_name or model_dir
    tok = judge.tokenizer
    lock = threading.Lock()
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "unireward"}]}

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        if body.get("model") not in (None, name):
            raise HTTPException(404, f"model {body.get('model')!r} not served; serving {name!r}")
        req, prefix = _split(body["messages"])
        if prefix and not body.get("continue_final_message"):
            raise HTTPException(400, "a final assistant message needs continue_final_message=true")
        top_k = int(body.get("top_logprobs") or 0)
        with lock, torch.inference_mode():
            inputs = judge.encode([req], [prefix])
            out = judge.model.generate(**inputs, max_new_tokens=int(body.get("max_tokens") or 256),
                                       do_sample=False, output_logits=True, return_dict_in_generate=True)
        new = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        eos = set(judge.model.generation_config.eos_token_id or [])
        finish = "stop" if new and new[-1] in eos else "length"
        text = tok.decode(new, skip_special_tokens=True)
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": finish}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": _logprobs(tok, new, out.logits, top_k)}
        return {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                "model": name, "choices": [choice],
                "usage": {"prompt_tokens": int(inputs["input_ids"].shape[1]), "completion_tokens": len(new),
                          "total_tokens": int(inputs["input_ids"].shape[1]) + len(new)}}

    return app


def _logprobs(tok, ids: list[int], logits: tuple, top_k: int) -> list[dict]:
    import torch

    content = []
    for tid, step in zip(ids, logits):
        lp = torch.log_softmax(step[0].float(), dim=-1)
        best = torch.topk(lp, min(top_k, lp.shape[-1])) if top_k else None
        entry = {"token": tok.decode([tid]), "logprob": float(lp[tid]), "top_logprobs": []}
        if best is not None:
            entry["top_logprobs"] = [{"token": tok.decode([int(i)]), "logprob": float(v)}
                                     for v, i in zip(best.values, best.indices)]
        content.append(entry)
    return content


class BackgroundServer:
    """Run the app with uvicorn in a daemon thread on 127.0.0.1 (a free port unless given)."""

    def __init__(self, model_dir: str, served_name: str | None = None, port: int = 0):
        import socket

        import uvicorn

        if port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        config = uvicorn.Config(create_app(model_dir, served_name), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    import argparse

    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--served-model-name", default=None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    uvicorn.run(create_app(args.model_dir, args.served_model_name), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
