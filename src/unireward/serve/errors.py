"""Client errors and their HTTP answers, in the OpenAI error shape, for every unireward server.

Design choices a user will notice:
- Every client mistake (an `ApiError`) is a 4xx whose message starts with the offending field in JSON-path form
  (``messages[0].content[1].type: ...``) and whose ``param`` names that field; the server never answers
  500 for bad input. Bodies follow OpenAI: ``{"error": {"message", "type", "param", "code"}}``.
- Validation errors (FastAPI/pydantic) answer 400, as OpenAI and vLLM do, not FastAPI's default 422.
- An unexpected server fault answers 500 with its exception type, and the server keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any


log = logging.getLogger("unireward.serve")

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
               503: "service_unavailable", 504: "timeout_error"}


class ApiError(Exception):
    """A request the server answers with an error status (4xx for client mistakes, 503/504 for load and
    timeouts); `param` is the offending field (JSON-path form) when there is one."""

    def __init__(self, status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(f"{param}: {message}" if param else message)
        self.status, self.param, self.headers = status, param, headers or {}


def bad_request(param: str | None, message: str) -> ApiError:
    return ApiError(400, message, param)


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error" if status >= 500
                                                                   else "invalid_request_error"),
                      "param": param, "code": status}}


def json_path(loc: Sequence[Any]) -> str:
    """('body', 'messages', 0, 'content', 1, 'type') -> 'messages[0].content[1].type'."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_message(errors: Sequence[dict[str, Any]]) -> tuple[str, str | None]:
    """One readable message (and the first field) from pydantic's error list."""
    parts, first = [], None
    for e in errors:
        path = json_path(e.get("loc", ()))
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "missing":
            msg = "required field is missing"
        if e.get("type") == "extra_forbidden":
            msg = "unknown field; this server does not support it"
        if e.get("type") == "json_invalid":
            path, msg = "", "the body is not valid JSON"
        parts.append(f"{path}: {msg}" if path else msg)
        first = first or path or None
    return "; ".join(parts), first


def install_handlers(app: Any) -> None:
    """Answer ApiError, validation errors, HTTP errors and unexpected faults in the OpenAI error shape."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(ApiError)
    async def _client(_request: Any, exc: ApiError) -> JSONResponse:
        msg = str(exc)
        return JSONResponse(error_body(exc.status, msg, exc.param), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Any, exc: RequestValidationError) -> JSONResponse:
        msg, param = validation_message(exc.errors())
        return JSONResponse(error_body(400, msg, param), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_request: Any, exc: HTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _fault(_request: Any, exc: Exception) -> JSONResponse:
        log.exception("unexpected server error")
        return JSONResponse(error_body(500, f"internal server error ({type(exc).__name__})"), status_code=500)
