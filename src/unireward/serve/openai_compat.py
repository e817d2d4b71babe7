"""An OpenAI-compatible chat-completions server over any transformers VLM (the `hf` backend's model).

It serves ``GET /v1/models``, ``POST /v1/chat/completions`` and ``GET /health``. It exists to run a judge
over HTTP where vLLM cannot run (CPU machines, tests); on GPUs use vLLM or SGLang.

    python -m unireward.serve.openai_compat MODEL_DIR --port 8000

Design choices a user will notice (details in docs/serve.md):
- Implemented: text and ``image_url`` parts (base64 data URLs; remote URLs only from allowed hosts, see
  `unireward.serve.security`), ``max_tokens`` / ``max_completion_tokens`` (aliases), ``temperature``
  (0, the default, is greedy; > 0 samples), ``top_p``, ``seed``, ``n`` (n identical choices when greedy,
  n samples otherwise), ``stop`` (the text is cut before the first stop string, ``finish_reason: "stop"``),
  ``logprobs`` / ``top_logprobs``, ``stream`` (server-sent events in the OpenAI chunk format; the answer
  is generated first and then sent as one content chunk per choice, not token by token) with
  ``stream_options.include_usage``, and vLLM's ``continue_final_message`` (continue an assistant prefix).
- Refused with a 400 naming the field: anything else, malformed requests, special tokens typed as text
  (``<|image_pad|>``, ``<|vision_start|>``, ``<image>``, ``<|im_end|>`` ...: they would be read as image
  slots or turn boundaries, so they are refused rather than silently rewritten), multi-turn chats (a
  judge request is one user turn, optionally a system turn first and an assistant prefix last).
- Limits (`Limits`), API keys and the loopback default: see `unireward.serve.limits` and `.security`.
- One generation at a time, no batching (see `unireward.serve.engine`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


try:
    from fastapi import Request as HTTPRequest
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("the server needs the serve extra: pip install 'unireward[serve]'") from e

from unireward.serve.errors import ApiError, bad_request
from unireward.serve.limits import MB, Limits
from unireward.serve.schema import ChatRequest
from unireward.serve.security import UrlPolicy


# ---------------------------------------------------------------------- reading a request
@dataclass
class Plan:
    """What a chat request asks the judge: system text, user texts and image URLs, assistant prefix."""

    system: str | None = None
    texts: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (url, param)
    prefix: str = ""


def plan(body: ChatRequest, specials: list[str]) -> Plan:
    """Check the conversation's shape and texts; 400 naming the message or part otherwise."""
    p, last = Plan(), len(body.messages) - 1
    for i, m in enumerate(body.messages):
        where = f"messages[{i}]"
        texts = [(f"{where}.content[{j}].text", c.text) for j, c in enumerate(m.content) if c.type == "text"]
        for param, text in texts:
            _refuse_special(param, text or "", specials)
        images = [(c.image_url.url, f"{where}.content[{j}].image_url.url")
                  for j, c in enumerate(m.content) if c.type == "image_url" and c.image_url]
        if images and m.role != "user":
            raise bad_request(images[0][1], f"images are only accepted in user messages, not in a {m.role} message")
        joined = "".join(t or "" for _, t in texts)
        if m.role in ("system", "developer"):
            if p.texts or p.images:
                raise bad_request(f"{where}.role", "a system message must come before the user messages")
            p.system = (p.system or "") + joined
        elif m.role == "user":
            p.texts.append(joined)
            p.images += images
        else:
            _assistant(body, i, last, where)
            p.prefix = joined
    if not p.texts:
        raise bad_request("messages", "no user message")
    if body.continue_final_message and body.messages[-1].role != "assistant":
        raise bad_request("continue_final_message", "continue_final_message=true needs a final assistant message")
    return p


def _assistant(body: ChatRequest, i: int, last: int, where: str) -> None:
    if i != last:
        raise bad_request(f"{where}.role", "multi-turn conversations are not supported: an assistant message may "
                                           "only be the last one (a prefix to continue)")
    if not body.continue_final_message:
        raise bad_request(f"{where}.role", "a final assistant message needs continue_final_message=true")


def _refuse_special(param: str, text: str, specials: list[str]) -> None:
    for tok in specials:
        if tok in text:
            raise bad_request(param, f"the text holds the special token {tok!r}; special tokens cannot be sent as "
                                     "text (they would be read as image slots or turn boundaries)")


def check_limits(body: ChatRequest, p: Plan, limits: Limits) -> None:
    """Operator limits on a schema-valid request; 400 naming the field."""
    field_name = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
    if body.new_tokens and body.new_tokens > limits.max_tokens:
        raise bad_request(field_name, f"{body.new_tokens} is over the server's limit of {limits.max_tokens}")
    if body.n > limits.max_n:
        raise bad_request("n", f"{body.n} is over the server's limit of {limits.max_n}")
    if body.stop and len(body.stop) > limits.max_stop:
        raise bad_request("stop", f"{len(body.stop)} stop strings, over the limit of {limits.max_stop}")
    if body.stop and max(map(len, body.stop)) > limits.max_stop_chars:
        raise bad_request("stop", f"a stop string is over the limit of {limits.max_stop_chars} characters")
    if len(p.images) > limits.max_images:
        raise bad_request("messages", f"{len(p.images)} images, over the limit of {limits.max_images} per request")
    top = body.top_logprobs or 0
    if top > limits.max_top_logprobs:
        raise bad_request("top_logprobs", f"{top} is over the server's limit of {limits.max_top_logprobs}")
    entries = (body.new_tokens or limits.max_tokens) * max(1, top) * body.n
    if body.logprobs and entries > limits.max_logprob_entries:
        raise bad_request("top_logprobs", f"max_tokens x top_logprobs x n = {entries}, over the limit of "
                                          f"{limits.max_logprob_entries} log-probability entries per answer")


# ---------------------------------------------------------------------- answers
def _logprobs(tok: Any, ids: list[int], logits: list[Any], top_k: int) -> list[dict]:
    import torch

    content = []
    for tid, step in zip(ids, logits):
        lp = torch.log_softmax(step.float(), dim=-1)
        entry: dict[str, Any] = {"token": tok.decode([tid]), "logprob": float(lp[tid]), "top_logprobs": []}
        if top_k:
            best = torch.topk(lp, min(top_k, lp.shape[-1]))
            entry["top_logprobs"] = [{"token": tok.decode([int(i)]), "logprob": float(v)}
                                     for v, i in zip(best.values, best.indices)]
        content.append(entry)
    return content


def _choices(tok: Any, rows: list[Any], body: ChatRequest) -> list[dict]:
    out = []
    for i, c in enumerate(rows):
        choice: dict[str, Any] = {"index": i, "message": {"role": "assistant", "content": c.text},
                                  "logprobs": None, "finish_reason": c.finish_reason}
        if body.logprobs:
            choice["logprobs"] = {"content": _logprobs(tok, c.ids, c.logits or [], body.top_logprobs or 0)}
        out.append(choice)
    return out


def _events(answer: dict, include_usage: bool) -> AsyncIterator[str]:
    """The answer as OpenAI chat.completion.chunk server-sent events, ending with [DONE]."""
    head = {k: answer[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}

    def event(choices: list[dict], **extra: Any) -> str:
        return f"data: {json.dumps(head | {'choices': choices} | extra)}\n\n"

    async def gen() -> AsyncIterator[str]:
        for c in answer["choices"]:
            i = c["index"]
            yield event([{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                          "finish_reason": None}])
            yield event([{"index": i, "delta": {"content": c["message"]["content"]}, "logprobs": c["logprobs"],
                          "finish_reason": None}])
            yield event([{"index": i, "delta": {}, "logprobs": None, "finish_reason": c["finish_reason"]}])
        if include_usage:
            yield event([], usage=answer["usage"])
        yield "data: [DONE]\n\n"

    return gen()


# ---------------------------------------------------------------------- the app
def create_app(model: Any, served_name: str | None = None, *, limits: Limits | None = None,
               api_keys: list[str] | tuple[str, ...] = (), url_policy: UrlPolicy | None = None,
               **judge_kwargs: Any) -> Any:
    """The FastAPI app serving `model` (a model folder / hub id, or an already loaded `HFJudge`)."""
    from fastapi import FastAPI

    from unireward.judges.hf import HFJudge
    from unireward.serve.engine import Engine
    from unireward.serve.errors import install_handlers
    from unireward.serve.limits import BodyLimit
    from unireward.serve.security import ApiKeyAuth

    judge = model if isinstance(model, HFJudge) else HFJudge(model, **judge_kwargs)
    name = served_name or judge.model_path
    limits, policy = limits or Limits(), url_policy or UrlPolicy()
    engine = Engine(judge, limits)
    app = FastAPI(title="unireward OpenAI-compatible judge server")
    install_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(ApiKeyAuth, keys=list(api_keys))  # added last = runs first: no body read before auth
    app.state.engine = engine

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "waiting": engine.waiting, **engine.stats}

    add_openai_routes(app, judge, name, limits, policy, engine)
    return app


def add_openai_routes(app: Any, judge: Any, name: str, limits: Limits, policy: UrlPolicy, engine: Any) -> None:
    """Register ``GET /v1/models`` and ``POST /v1/chat/completions`` for `judge` on `app` (also used by the
    reward server, so vLLM/SGLang clients and the `openai` backend work against it unchanged)."""
    from fastapi.responses import Response, StreamingResponse

    from unireward.serve.engine import ClientGone, Sampling

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "unireward",
                                            "max_model_len": engine.context}]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: HTTPRequest) -> Any:
        deadline = time.monotonic() + limits.request_timeout
        if body.model not in (None, name):
            raise ApiError(404, f"model {body.model!r} is not served here; serving {name!r}", "model")
        p = plan(body, engine.special_tokens)
        check_limits(body, p, limits)
        await engine.check_text_length([p.system or "", *p.texts, p.prefix])
        req = await _request(p, limits, policy, judge.max_pixels, deadline)
        inputs = await engine.encode(req, p.prefix)
        sampling = Sampling(max_new_tokens=body.new_tokens or limits.max_tokens, n=body.n,
                            temperature=body.temperature or 0.0, top_p=body.top_p, seed=body.seed,
                            stop=body.stop or [], logprobs=body.logprobs, top_logprobs=body.top_logprobs or 0)
        try:
            rows = await engine.run(inputs, sampling, deadline, request.is_disconnected)
        except ClientGone:
            return Response(status_code=499)
        prompt = int(inputs["input_ids"].shape[1])
        completion = sum(len(r.ids) for r in rows)
        answer = {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                  "model": name, "choices": _choices(engine.tok, rows, body),
                  "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                            "total_tokens": prompt + completion}}
        if body.stream:
            usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(_events(answer, usage), media_type="text/event-stream")
        return answer


async def _request(p: Plan, limits: Limits, policy: UrlPolicy, budget: int | None, deadline: float) -> Any:
    """The judge request, its images decoded or fetched within the request's time."""
    import asyncio

    from unireward.judges.base import Request
    from unireward.serve.images import image_from_url

    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            images = [await image_from_url(url, param, limits, policy, budget) for url, param in p.images]
    except TimeoutError:
        raise ApiError(504, f"reading the images took past the request timeout of {limits.request_timeout:g} s",
                       "messages") from None
    return Request(text="".join(p.texts), images=images, system=p.system)


# ---------------------------------------------------------------------- running it
class BackgroundServer:
    """Run the app with uvicorn in a daemon thread on 127.0.0.1 (a free port unless given).

    `options` go to `create_app` (limits=, api_keys=, url_policy=, and judge arguments).
    """

    def __init__(self, model: Any, served_name: str | None = None, port: int = 0, **options: Any):
        import socket

        import uvicorn

        if port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.app = create_app(model, served_name, **options)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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


def _args(argv: list[str] | None = None) -> Any:
    import argparse

    d = Limits()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--served-model-name", default=None)
    ap.add_argument("--host", default="127.0.0.1", help="bind address; anything but loopback needs an API key")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--api-key", action="append", default=[],
                    help="accepted key (repeatable); default: $UNIREWARD_API_KEY; none = no auth (loopback only)")
    ap.add_argument("--allow-url-host", action="append", default=[], help="host whose image URLs may be fetched")
    ap.add_argument("--allow-url-network", action="append", default=[],
                    help="non-public network (CIDR) that allowed hosts may resolve to, e.g. 10.0.0.0/8")
    ap.add_argument("--max-body-mb", type=float, default=d.max_body_bytes / MB)
    ap.add_argument("--max-images", type=int, default=d.max_images)
    ap.add_argument("--max-image-pixels", type=int, default=d.max_image_pixels)
    ap.add_argument("--max-tokens", type=int, default=d.max_tokens, help="ceiling on max_tokens")
    ap.add_argument("--max-context", type=int, default=None, help="default: max_position_embeddings")
    ap.add_argument("--request-timeout", type=float, default=d.request_timeout, help="seconds, queueing included")
    ap.add_argument("--max-queue", type=int, default=d.max_queue)
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default="auto")
    return ap.parse_args(argv)


def settings(argv: list[str] | None = None) -> tuple[Any, dict[str, Any]]:
    """Parsed arguments and the `create_app` options; refuses a non-loopback bind without an API key."""
    from unireward.serve.security import require_key_off_loopback

    a = _args(argv)
    keys = a.api_key or [k for k in [os.environ.get("UNIREWARD_API_KEY", "")] if k]
    require_key_off_loopback(a.host, keys)
    limits = Limits(max_body_bytes=int(a.max_body_mb * MB), max_images=a.max_images,
                    max_image_pixels=a.max_image_pixels, max_tokens=a.max_tokens, max_context=a.max_context,
                    request_timeout=a.request_timeout, max_queue=a.max_queue)
    options = dict(limits=limits, api_keys=keys, url_policy=UrlPolicy.build(a.allow_url_host, a.allow_url_network),
                   dtype=a.dtype, **({"device": a.device} if a.device else {}))
    return a, options


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    a, options = settings(argv)
    uvicorn.run(create_app(a.model_dir, a.served_model_name, **options), host=a.host, port=a.port)


if __name__ == "__main__":
    main()
