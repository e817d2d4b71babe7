"""`unireward serve`: one judge, loaded once, served as a reward service for RL loops and HTTP clients.

Routes (details and payloads in docs/serve.md):

| route | what |
|---|---|
| ``POST /v1/compare`` | pairwise verdicts for ``items`` [{task, prompt, a, b, media}] |
| ``POST /v1/score`` | pointwise scores for ``items`` [{task, prompt, candidate, media}] |
| ``POST /v1/group`` | G candidates of one prompt: every pair judged (optionally both orders), win rates (Pref-GRPO) |
| ``POST /get_reward`` | OpenRLHF's remote reward model payload (``query``, ``prompts``, ``labels``) plus media keys |
| ``POST /v1/chat/completions``, ``GET /v1/models`` | the OpenAI-compatible routes (in-process hf judges) |
| ``GET /health``, ``GET /ready`` | liveness; readiness (503 while draining or with a full queue) — both open |
| ``GET /metrics`` | Prometheus text format (`unireward.serve.metrics`) |

Design choices a user will notice:
- Judgments from concurrent requests are coalesced into model batches (`unireward.serve.batcher`); the
  chat route shares the model through the same lock.
- The same safety rules as the OpenAI-compatible server, from the same modules: loopback bind unless an
  API key is set, keys as ``Authorization: Bearer`` or ``x-api-key`` checked before the body is read, the
  body limit (413), media limits and URL rules (400 naming the field), per-request timeout (503 queued /
  504 running), a bounded queue (429 + Retry-After), errors in the OpenAI error shape.
- Special tokens of the judge's tokenizer typed in a prompt or text candidate are refused (400), as in the
  chat route: they would be read as image slots or turn boundaries. OpenRLHF's ``query`` carries the
  policy's chat markup by design, so ``/get_reward`` removes those tokens from the texts it derives instead.
- Graceful shutdown: on SIGTERM (or `BackgroundRewardServer.stop`) readiness turns 503, new judgment
  requests answer 503, uvicorn stops accepting connections, and in-flight requests finish before exit.
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from unireward.rewards.winrate import pairs as group_pairs
from unireward.rewards.winrate import win_rates
from unireward.serve.batcher import BatchConfig, Batcher
from unireward.serve.errors import ApiError, bad_request
from unireward.serve.limits import Limits
from unireward.serve.media_refs import MediaDecoder
from unireward.serve.reward_schema import CompareRequest, GroupRequest, OpenRLHFRequest, ScoreRequest
from unireward.serve.security import UrlPolicy
from unireward.tasks import Form, Score, Task, Verdict


ROUTES = {"/v1/compare", "/v1/score", "/v1/group", "/get_reward", "/v1/chat/completions", "/v1/models", "/health",
          "/ready", "/metrics", "/v1/judge"}
OPEN_PATHS = ("/health", "/ready")


@dataclass(frozen=True)
class ServeSettings:
    """Everything an operator sets; see docs/serve.md. `failed_reward` is what ``/get_reward`` reports for
    a judgment that failed (OpenRLHF needs a number; the failure is also listed in ``errors``)."""

    limits: Limits = field(default_factory=Limits)
    batching: BatchConfig = field(default_factory=BatchConfig)
    api_keys: tuple[str, ...] = ()
    url_policy: UrlPolicy = field(default_factory=UrlPolicy)
    media_cache: bool = True
    served_name: str | None = None
    failed_reward: float = 0.0


class Service:
    """The state behind the routes: the judge, its batcher, metrics, and the draining flag."""

    def __init__(self, judge: Any, settings: ServeSettings, engine: Any = None):
        from unireward.serve.metrics import Metrics

        self.judge, self.settings, self.engine = judge, settings, engine
        self.limits = settings.limits
        self.metrics = Metrics(ROUTES)
        judge.batch_size = settings.batching.max_batch  # one batcher batch = one model call
        lock = engine._model if engine is not None else None
        text_lock = engine._text if engine is not None else None
        self.batcher = Batcher(judge, settings.batching, lock, text_lock, self._batch_done)
        self.specials = _special_tokens(judge)
        self.draining = False
        self.name = settings.served_name or judge.name
        self.replica = uuid.uuid4().hex[:12]  # tells replicas apart behind a load balancer (/v1/judge)

    def _batch_done(self, form: Form, size: int, seconds: float) -> None:
        self.metrics.batch_done(form.value, size, seconds)

    def decoder(self) -> MediaDecoder:
        return MediaDecoder(self.limits, self.settings.url_policy, self.judge.max_pixels, self.judge.num_frames,
                            cache=self.settings.media_cache)

    def check_open(self) -> float:
        """The request's deadline; 503 while draining."""
        if self.draining:
            raise ApiError(503, "the server is shutting down; retry on another replica",
                           headers={"Retry-After": "1", "Connection": "close"})
        return time.monotonic() + self.limits.request_timeout

    def check_text(self, param: str, text: str) -> None:
        for tok in self.specials:
            if tok in text:
                raise bad_request(param, f"the text holds the special token {tok!r}; special tokens cannot be sent "
                                         "as text (they would be read as image slots or turn boundaries)")

    def strip_specials(self, text: str) -> str:
        for tok in self.specials:
            text = text.replace(tok, "")
        return text

    async def judge_items(self, form: Form, items: list[dict], deadline: float) -> list[Verdict | Score]:
        if len(items) > self.limits.max_items:
            raise bad_request("items", f"{len(items)} judgments, over the limit of {self.limits.max_items} per "
                                       "request")
        return await self.batcher.submit(form, items, deadline)

    def count_media(self, decoder: MediaDecoder) -> None:
        self.metrics.decoded.inc(decoder.decoded)
        self.metrics.reused.inc(decoder.reused)


def _special_tokens(judge: Any) -> list[str]:
    from unireward.serve.engine import special_tokens

    tok = getattr(judge, "tokenizer", None)
    return special_tokens(tok) if tok is not None else []


# ---------------------------------------------------------------------- building judge items
async def _with_deadline(coro: Any, deadline: float, what: str, limits: Limits) -> Any:
    import asyncio

    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await coro
    except TimeoutError:
        raise ApiError(504, f"reading the media took past the request timeout of {limits.request_timeout:g} s",
                       what) from None


async def _shared_media(svc: Service, task: Task, ref: Any, dec: MediaDecoder, param: str) -> Any:
    if ref is None:
        raise bad_request(param, f"{task.value} needs the shared {task.modality} in 'media'")
    return await dec.media(ref, task.modality, param, shared=True)


async def _candidate(svc: Service, task: Task, ref: Any, dec: MediaDecoder, param: str) -> Any:
    """A candidate: media for generation tasks, a text (checked) for understanding tasks."""
    if task.is_generation:
        return await dec.media(ref, task.modality, param)
    if not isinstance(ref, str):
        raise bad_request(param, f"a {task.value} candidate is a text answer (a string)")
    svc.check_text(param, ref)
    return ref


async def _pair_item(svc: Service, x: Any, dec: MediaDecoder, where: str) -> dict:
    task = Task.parse(x.task)
    svc.check_text(f"{where}.prompt", x.prompt)
    item = {"task": task, "prompt": x.prompt, "a": await _candidate(svc, task, x.a, dec, f"{where}.a"),
            "b": await _candidate(svc, task, x.b, dec, f"{where}.b"), "media": None}
    if not task.is_generation:
        item["media"] = await _shared_media(svc, task, x.media, dec, f"{where}.media")
    return item


async def _point_item(svc: Service, x: Any, dec: MediaDecoder, where: str) -> dict:
    task = Task.parse(x.task)
    svc.check_text(f"{where}.prompt", x.prompt)
    item = {"task": task, "prompt": x.prompt, "media": None,
            "candidate": await _candidate(svc, task, x.candidate, dec, f"{where}.candidate")}
    if not task.is_generation:
        item["media"] = await _shared_media(svc, task, x.media, dec, f"{where}.media")
    return item


# ---------------------------------------------------------------------- answers
def verdict_json(v: Verdict) -> dict:
    return {"winner": v.winner, "prob_a": v.prob_a, "probs": v.probs, "text": v.text, "error": v.error}


def score_json(s: Score) -> dict:
    return {"value": s.value, "normalized": s.normalized, "scale": list(s.scale), "dims": s.dims, "text": s.text,
            "error": s.error}


# ---------------------------------------------------------------------- routes
async def _judge_route(svc: Service, raw_items: list, form: Form) -> list:
    """Decode a request's items under its deadline, then judge them in the shared batches."""
    deadline, dec = svc.check_open(), svc.decoder()
    build = _pair_item if form == Form.PAIR else _point_item
    items = await _with_deadline(_all(svc, raw_items, dec, build), deadline, "items", svc.limits)
    svc.count_media(dec)
    return await svc.judge_items(form, items, deadline)


def _add_judgment_routes(app: Any, svc: Service) -> None:
    @app.post("/v1/compare")
    async def compare(body: CompareRequest) -> dict:
        out = await _judge_route(svc, body.items, Form.PAIR)
        return {"model": svc.name, "verdicts": [verdict_json(v) for v in out]}

    @app.post("/v1/score")
    async def score(body: ScoreRequest) -> dict:
        out = await _judge_route(svc, body.items, Form.POINT)
        return {"model": svc.name, "scores": [score_json(s) for s in out]}

    @app.post("/v1/group")
    async def group(body: GroupRequest) -> dict:
        deadline, dec = svc.check_open(), svc.decoder()
        return await _group(svc, body, dec, deadline)


async def _all(svc: Service, xs: list, dec: MediaDecoder, build: Any) -> list[dict]:
    if len(xs) > svc.limits.max_items:
        raise bad_request("items", f"{len(xs)} items, over the limit of {svc.limits.max_items} per request")
    return [await build(svc, x, dec, f"items[{k}]") for k, x in enumerate(xs)]


async def _group(svc: Service, body: Any, dec: MediaDecoder, deadline: float) -> dict:
    task, g = Task.parse(body.task), len(body.candidates)
    if g > svc.limits.max_group:
        raise bad_request("candidates", f"{g} candidates, over the limit of {svc.limits.max_group} per group")
    order = group_pairs(g, body.both_orders)
    if len(order) > svc.limits.max_items:
        raise bad_request("candidates", f"{g} candidates make {len(order)} judgments, over the limit of "
                                        f"{svc.limits.max_items} per request")
    svc.check_text("prompt", body.prompt)

    async def build() -> list[dict]:
        shared = None if task.is_generation else await _shared_media(svc, task, body.media, dec, "media")
        items = []
        for i, j in order:  # with the cache on, each candidate is decoded once; off, once per occurrence
            a = await _candidate(svc, task, body.candidates[i], dec, f"candidates[{i}]")
            b = await _candidate(svc, task, body.candidates[j], dec, f"candidates[{j}]")
            items.append({"task": task, "prompt": body.prompt, "a": a, "b": b, "media": shared})
        return items

    items = await _with_deadline(build(), deadline, "candidates", svc.limits)
    svc.count_media(dec)
    verdicts = await svc.judge_items(Form.PAIR, items, deadline)
    rates = win_rates(g, [(i, j, v) for (i, j), v in zip(order, verdicts)], soft=body.soft)
    return {"model": svc.name, "win_rates": rates, "judgments": len(order),
            "failed": sum(1 for v in verdicts if v.winner is None),
            "pairs": [{"a": i, "b": j, **verdict_json(v)} for (i, j), v in zip(order, verdicts)],
            "media": {"decoded": dec.decoded, "reused": dec.reused}}


def _add_openrlhf_route(app: Any, svc: Service) -> None:
    @app.post("/get_reward")
    async def get_reward(body: OpenRLHFRequest) -> dict:
        deadline, dec = svc.check_open(), svc.decoder()
        task = Task.parse(body.task)
        items = await _with_deadline(_openrlhf_items(svc, body, task, dec), deadline, "query", svc.limits)
        svc.count_media(dec)
        scores = await svc.judge_items(Form.POINT, items, deadline)
        fail = svc.settings.failed_reward
        rewards = [s.normalized if s.normalized is not None else fail for s in scores]
        values = [s.value if s.value is not None else fail for s in scores]
        return {"rewards": rewards, "scores": values,
                "extra_logs": {"judge_score": values, "judge_failed": [float(s.value is None) for s in scores]},
                "errors": [s.error for s in scores]}


async def _openrlhf_items(svc: Service, body: Any, task: Task, dec: MediaDecoder) -> list[dict]:
    refs = body.videos if task.modality == "video" else body.images
    key = "videos" if task.modality == "video" else "images"
    if refs is None:
        raise bad_request(key, f"task {task.value} needs '{key}': one media reference per query")
    items = []
    for k, query in enumerate(body.query):
        prompt = body.prompts[k] if body.prompts else query
        if body.responses is not None:
            response = body.responses[k]
        elif body.prompts and query.startswith(prompt):
            response = query[len(prompt):]
        else:
            response = query
        prompt, response = svc.strip_specials(prompt).strip(), svc.strip_specials(response).strip()
        if not prompt:
            raise bad_request(f"prompts[{k}]", "empty prompt")
        if refs[k] is None:
            raise bad_request(f"{key}[{k}]", f"query {k} has no {task.modality}")
        media = await dec.media(refs[k], task.modality, f"{key}[{k}]", shared=not task.is_generation)
        items.append({"task": task, "prompt": prompt, "candidate": media if task.is_generation else response,
                      "media": None if task.is_generation else media})
    return items


def _add_status_routes(app: Any, svc: Service) -> None:
    from fastapi.responses import JSONResponse, Response

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> Any:
        b = svc.batcher
        state = {"ready": not svc.draining and b.pending < b.config.max_pending, "draining": svc.draining,
                 "pending": b.pending, "running": b.running, "max_pending": b.config.max_pending}
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        data, content_type = svc.metrics.render(svc.batcher)
        return Response(data, media_type=content_type)

    @app.get("/v1/judge")
    async def judge_info() -> dict:
        j = svc.judge
        return {"model": svc.name, "replica": svc.replica, "mode": j.mode, "family": j.family, "swap": j.swap,
                "num_frames": j.num_frames,
                "max_batch": svc.settings.batching.max_batch, "max_wait_ms": svc.settings.batching.max_wait_ms}


# ---------------------------------------------------------------------- the app
def create_reward_app(judge: Any, settings: ServeSettings | None = None, **judge_options: Any) -> Any:
    """The FastAPI app serving `judge` (a `Judge`, or a spec for `unireward.load_judge` with `judge_options`)."""
    from fastapi import FastAPI

    from unireward.serve.errors import install_handlers
    from unireward.serve.limits import BodyLimit
    from unireward.serve.metrics import RequestMetrics
    from unireward.serve.security import ApiKeyAuth

    settings = settings or ServeSettings()
    if isinstance(judge, str):
        from unireward import load_judge

        judge = load_judge(judge, **judge_options)
    engine = _engine(judge, settings.limits)
    svc = Service(judge, settings, engine)

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        yield
        svc.draining = True
        await svc.batcher.stop()

    app = FastAPI(title="unireward reward server", lifespan=lifespan)
    app.state.service = svc
    install_handlers(app)
    _add_status_routes(app, svc)
    _add_judgment_routes(app, svc)
    _add_openrlhf_route(app, svc)
    if engine is not None:
        from unireward.serve.openai_compat import add_openai_routes

        add_openai_routes(app, judge, svc.name, settings.limits, settings.url_policy, engine)
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(ApiKeyAuth, keys=list(settings.api_keys), open_paths=OPEN_PATHS)
    app.add_middleware(RequestMetrics, metrics=svc.metrics)  # outermost: counts 401 and 413 too
    return app


def _engine(judge: Any, limits: Limits) -> Any:
    """The chat-completions engine for an in-process transformers judge (None for other backends)."""
    if not hasattr(judge, "model") or not hasattr(judge, "tokenizer"):
        return None
    from unireward.serve.engine import Engine

    return Engine(judge, limits)


# ---------------------------------------------------------------------- running it
class BackgroundRewardServer:
    """`create_reward_app` under uvicorn in a daemon thread on 127.0.0.1 (a free port unless given); a
    context manager. `stop()` drains: in-flight requests finish, then the server exits."""

    def __init__(self, judge: Any, settings: ServeSettings | None = None, port: int = 0, **judge_options: Any):
        import socket

        import uvicorn

        if port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.app = create_reward_app(judge, settings, **judge_options)
        self.service: Service = self.app.state.service
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", loop="asyncio",
                                timeout_graceful_shutdown=self.service.limits.request_timeout + 5)
        self.server = DrainingServer(config, self.service)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundRewardServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the reward server did not start")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 30) -> None:
        self.service.draining = True
        self.server.should_exit = True
        self.thread.join(timeout=timeout)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _server_base() -> type:
    import uvicorn

    return uvicorn.Server


class DrainingServer(_server_base()):  # type: ignore[misc]
    """uvicorn's server that marks the service draining the moment a shutdown signal arrives, so readiness
    turns 503 while in-flight requests finish."""

    def __init__(self, config: Any, service: Service):
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.service.draining = True
        super().handle_exit(sig, frame)
