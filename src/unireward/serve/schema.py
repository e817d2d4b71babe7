"""The chat-completions request schema (pydantic), shared by the unireward servers.

Design choices a user will notice:
- Strict types: ``max_tokens: "5"`` or ``true`` is refused, not coerced. Unknown fields are refused with a
  400 that names them, so nothing a client asks for is silently ignored; the ignored-by-design fields are
  ``user`` and ``metadata``, and the penalties are accepted only at their neutral value 0.
- ``content`` is a string or a list of parts; a part is ``{"type": "text", "text": ...}`` or
  ``{"type": "image_url", "image_url": {"url": ...}}``. ``stop`` is a string or a list of strings.
- Static ranges live here (``max_tokens >= 1``, ``0 <= temperature <= 2`` ...); limits an operator sets
  (image count, token ceilings) are checked by the server against its `Limits`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ImageURL(_Strict):
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class ContentPart(_Strict):
    type: str
    text: str | None = None
    image_url: ImageURL | None = None

    @model_validator(mode="after")
    def _matches_type(self) -> ContentPart:
        if self.type not in ("text", "image_url"):
            raise ValueError(f"content part type {self.type!r} is not supported; use 'text' or 'image_url'")
        if self.type == "text" and (self.text is None or self.image_url is not None):
            raise ValueError("a 'text' part needs a 'text' string (and no image_url)")
        if self.type == "image_url" and (self.image_url is None or self.text is not None):
            raise ValueError("an 'image_url' part needs an 'image_url' object with a 'url' (and no text)")
        return self


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: list[ContentPart]
    name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _string_is_one_text_part(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [{"type": "text", "text": v}]
        if not isinstance(v, list):
            raise ValueError("content must be a string or a list of content parts")
        return v


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatRequest(_Strict):
    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1)
    stop: list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0)
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    continue_final_message: bool = False  # vLLM / SGLang extension: continue the final assistant message
    add_generation_prompt: bool = True  # vLLM extension; False together with continue_final_message
    user: str | None = None  # accepted, not used
    metadata: dict[str, str] | None = None  # accepted, not used

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop_string(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("stop")
    @classmethod
    def _stops_not_empty(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not s for s in v):
            raise ValueError("stop strings must not be empty")
        return v

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _neutral_penalty(cls, v: float | None) -> float | None:
        if v:
            raise ValueError("penalties are not supported; only 0 is accepted")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ChatRequest:
        if self.max_tokens and self.max_completion_tokens and self.max_tokens != self.max_completion_tokens:
            raise ValueError("max_tokens and max_completion_tokens differ; send one of them")
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=true")
        if not self.add_generation_prompt and not self.continue_final_message:
            raise ValueError("add_generation_prompt=false is only supported with continue_final_message=true")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options needs stream=true")
        return self

    @property
    def new_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens
