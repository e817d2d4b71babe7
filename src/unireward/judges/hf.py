"""The `hf` backend: a transformers VLM (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision) run in-process.

Loading goes through `AutoProcessor.from_pretrained` and `AutoModelForImageTextToText.from_pretrained`,
from a hub id or a local folder, exactly as for any released checkpoint. Batches are left-padded so the
last position of every row is its last real token.

Logprob mode tokenises the answer options (after the assistant prefix) into token paths and reads every
distribution they need from ONE forward pass per batch: a row of prompt + the tokens leading to the
deepest point where a distribution is needed yields all the next-token distributions along it. "Image 1
is better" vs "Image 2 is better" vs "Both images are equally good" needs one row (prompt + "Image ").
Scores are read digit by digit over every numeral of the scale: integer 1-5 needs one row, 1-10 one
("1" then "0" or the end), 0-100 nine; a template whose answers carry decimals reads the decimal grid too
(P("3.7") = P(3) P(. | 3) P(7 | 3.); "3" alone also needs P(no digit and no "." next)): 1-5 with one
decimal needs five rows ("1." .. "5."), with two decimals 41. Only the logits of the last few positions
are computed (`logits_to_keep`). Where there is more than one row, the prompt (media included) runs once:
its KV cache is repeated for each row and a second pass reads the rows' few answer tokens, so a 0-100
score costs about one prompt pass, not nine (the positions of the answer tokens continue each prompt's own,
multimodal RoPE included; the two ways agree to ~1e-6 in log-probability, see tests/judges/test_hf.py).
Each row holds a copy of its prompt's cache, so rows go in passes of at most `ROWS_PER_PASS` sequences.

Prompt length: a prompt longer than the model's context fails that item (its `error` says how long it is
and what fits) and its neighbours in the batch run on. The limit is ``max_prompt_tokens`` if set, else
the text model's ``max_position_embeddings`` minus the room for the answer (``max_new_tokens`` in
generate mode, the answer prefix in logprob mode; the room is capped at a quarter of the context). Two
checks: the text alone is counted first, in chunks, stopping once over the limit (a megabyte prompt fails
in milliseconds, before the processor sees it); then the exact length after processing (text, image and
video tokens) before the forward pass. Generation never runs past the context.
"""

from __future__ import annotations

import copy
import inspect
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unireward.judges.arch import get_arch
from unireward.judges.base import Choices, Generated, ItemErrors, Judge, Request
from unireward.judges.config import JudgeConfig


# Sequences in one answer-row pass after a shared prompt (each holds a copy of its prompt's KV cache).
ROWS_PER_PASS = 64


class HFJudge(Judge):
    """A judge backed by a transformers image-text-to-text model."""

    def __init__(self, model: str | Path, config: JudgeConfig | None = None, processor_kwargs: dict | None = None,
                 **options: Any):
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        cfg = (config or JudgeConfig()).merged(**options)  # validates mode, dtype, limits
        path = str(model)
        device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
        load_kw: dict[str, Any] = {"dtype": cfg.dtype if cfg.dtype == "auto" else getattr(torch, cfg.dtype)}
        if device == "auto":
            load_kw["device_map"] = "auto"
        get_arch(AutoConfig.from_pretrained(path).model_type)  # an unsupported architecture fails before loading
        processor = AutoProcessor.from_pretrained(path, **(processor_kwargs or {}))
        loaded = AutoModelForImageTextToText.from_pretrained(path, **load_kw).eval()
        if device != "auto":
            loaded.to(device)
        self._attach(loaded, processor, cfg, path, device)

    @classmethod
    def from_model(cls, model: Any, processor: Any, config: JudgeConfig | None = None, **options: Any) -> HFJudge:
        """A judge over a model and processor already in memory (no copy, no loading), e.g. the model being
        trained; put the model in eval mode around the calls."""
        judge = cls.__new__(cls)
        cfg = (config or JudgeConfig()).merged(**options)
        judge._attach(model, processor, cfg, getattr(model, "name_or_path", None) or "live-model", str(model.device))
        return judge

    def _attach(self, model: Any, processor: Any, cfg: JudgeConfig, path: str, device: str) -> None:
        self.arch = get_arch(model.config.model_type)
        super().__init__(cfg.merged(family=cfg.family or self.arch.default_family))
        self.model_path = self.name = path
        self.model, self.processor, self.tokenizer = model, processor, processor.tokenizer
        self.device = device
        self._prepare_tokens()

    # Set from the tokenizer and the model's config by `_prepare_tokens` (also lazily, for subclasses that
    # build a judge around a model already in memory).
    _tries: dict[tuple, _Trie]
    _digit_ids: list[int]
    _dot_ids: list[int] | None = None
    context: int | None = None  # the text model's context in tokens (None where its config does not say)
    # Logprob rows after one shared prompt pass (KV cache repeated per row); False runs every row as its own
    # prompt + answer sequence, as before (same numbers to ~1e-6; kept for the side-by-side benchmark).
    share_prompt: bool = True
    _cache_arg: str = "cache"  # the forward's keyword for a KV cache (set by `_prepare_tokens`)

    def _prepare_tokens(self) -> None:
        """The option-trie cache, the ids of tokens that continue a numeral (those starting with a digit;
        the decimal point, "." or ".7"), and the model's context length."""
        vocab = self.tokenizer.get_vocab()
        self._tries = {}
        self._digit_ids = sorted(i for t, i in vocab.items() if t[:1].isascii() and t[:1].isdigit())
        self._dot_ids = sorted(i for t, i in vocab.items()
                               if t[:1] == "." and (not t[1:] or (t[1:].isascii() and t[1:].isdigit())))
        config = self.model.config
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.context = getattr(text_config, "max_position_embeddings", None)
        # transformers renamed `past_key_values` to `cache` during 5.x; use whichever this version's forward takes
        self._cache_arg = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    # ------------------------------------------------------------------ encoding
    def _messages(self, req: Request) -> list[dict]:
        content = [{"type": "image"} for _ in req.images] + [{"type": "video"} for _ in req.videos]
        content.append({"type": "text", "text": req.text})
        msgs = [{"role": "user", "content": content}]
        system = req.system or self.arch.system_prompt
        if system:
            msgs.insert(0, {"role": "system", "content": [{"type": "text", "text": system}]})
        return msgs

    def prompt_text(self, req: Request) -> str:
        """The exact prompt string the model sees (chat template applied, generation prompt added), followed by
        what the assistant has already written (`Request.answer_start`, the reasoning in reason-logprob mode)."""
        chat = self.processor.apply_chat_template(self._messages(req), add_generation_prompt=True, tokenize=False)
        return chat + req.answer_start

    def encode(self, requests: list[Request], suffixes: list[str] | None = None):
        """Processor outputs for a left-padded batch (`suffixes` are appended after the generation prompt)."""
        texts = [self.prompt_text(r) + (suffixes[i] if suffixes else "") for i, r in enumerate(requests)]
        images = [r.images for r in requests]
        videos = [v for r in requests for v in r.videos]
        kw: dict[str, Any] = {}
        if any(images):
            kw["images"] = images if self.arch.nested_images else [im for ims in images for im in ims]
        if videos:
            kw["videos"] = videos
        inputs = self.processor(text=texts, padding=True, padding_side="left", return_tensors="pt", **kw)
        return inputs.to(self.model.device)

    # ------------------------------------------------------------------ prompt length
    def prompt_limit(self, answer_tokens: int) -> tuple[int | None, str]:
        """The most prompt tokens accepted when the answer needs `answer_tokens`, and why (for messages).

        ``max_prompt_tokens`` when set; else the model's context minus the room for the answer
        (max_new_tokens in generate mode, the answer prefix in logprob mode), that room capped at a quarter
        of the context; None (no check) when the model's config gives no context length.
        """
        if self.config.max_prompt_tokens is not None:
            return self.config.max_prompt_tokens, f"max_prompt_tokens={self.config.max_prompt_tokens}"
        if not self.context:
            return None, ""
        room = min(answer_tokens, self.context // 4)
        return self.context - room, f"the model's context is {self.context} tokens, {room} kept for the answer"

    def _check_text_lengths(self, requests: list[Request], answer_tokens: int) -> None:
        """Fail, before any processing, the requests whose text alone is over the limit (cheap: counting
        stops as soon as the limit is passed, so a megabyte prompt costs a few thousand tokens' work)."""
        limit, why = self.prompt_limit(answer_tokens)
        if limit is None:
            return
        errors = {}
        for i, req in enumerate(requests):
            n = self._count_tokens_upto(req.text, limit)
            if n > limit:
                errors[i] = (f"prompt too long: its text alone is more than {limit:,} tokens (counted {n:,} of its "
                             f"{len(req.text):,} characters, then stopped); at most {limit:,} fit ({why}). "
                             "Shorten the prompt or set max_prompt_tokens.")
        if errors:
            raise ItemErrors(errors)

    def _count_tokens_upto(self, text: str, limit: int) -> int:
        """The token count of `text`, or a count above `limit` once that is certain (chunks cut at spaces)."""
        step, total, pos = 4 * (limit + 1), 0, 0
        while pos < len(text) and total <= limit:
            end = min(len(text), pos + step)
            if end < len(text):
                cut = text.rfind(" ", pos + 1, end)
                end = cut if cut > pos else end
            total += len(self.tokenizer.encode(text[pos:end], add_special_tokens=False, verbose=False))
            pos = end
        return total

    def _check_encoded(self, inputs, rows_per_request: int, first_suffix: int, answer_tokens: int) -> list[int]:
        """Exact prompt lengths (text and media tokens) of an encoded left-padded batch, one per request
        (`rows_per_request` rows each; the first carries `first_suffix` tokens after the prompt); requests
        over the limit for an answer of `answer_tokens` raise `ItemErrors`."""
        mask = inputs["attention_mask"]
        if not bool(mask[:, -1].all()):
            raise RuntimeError("the processor did not left-pad the batch; positions would be read wrongly")
        lengths = mask.sum(1).tolist()
        prompt = [int(lengths[i]) - first_suffix for i in range(0, len(lengths), rows_per_request)]
        limit, why = self.prompt_limit(answer_tokens)
        if limit is not None:
            errors = {i: f"prompt too long: it is {k:,} tokens (text and media); at most {limit:,} fit ({why}). "
                         "Shorten the prompt, use fewer frames or pixels, or set max_prompt_tokens."
                      for i, k in enumerate(prompt) if k > limit}
            if errors:
                raise ItemErrors(errors)
        return prompt

    # ------------------------------------------------------------------ primitives
    def _generate(self, requests: list[Request], max_new_tokens: int) -> list[str]:
        import torch

        if self._dot_ids is None:
            self._prepare_tokens()
        self._check_text_lengths(requests, max_new_tokens)
        inputs = self.encode(requests)
        prompt = self._check_encoded(inputs, 1, 0, max_new_tokens)
        if self.context:  # never generate past the model's context
            max_new_tokens = max(1, min(max_new_tokens, self.context - max(prompt)))
        chosen = _ChosenLogprobs() if self.mode == "reason-logprob" else None
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                      **({"logits_processor": [chosen]} if chosen else {}))
        new = out[:, inputs["input_ids"].shape[1]:]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        if chosen is None:
            return texts
        probs = torch.stack(chosen.steps, 1).exp().tolist()  # [row, step]
        return [Generated.of(text, self._token_ends(ids, text, p)) for ids, text, p in zip(new.tolist(), texts, probs)]

    def _token_ends(self, ids: list[int], text: str, probs: list[float]) -> list[tuple[int, float]]:
        """(end offset in `text`, probability) per generated token, special tokens left out. Offsets come from
        decoding token by token; where that does not add up to the text (a character split over tokens),
        from decoding each prefix."""
        special = set(self.tokenizer.all_special_ids)
        kept = [(t, p) for t, p in zip(ids, probs) if t not in special]
        pieces = [self.tokenizer.decode([t], skip_special_tokens=True) for t, _ in kept]
        if "".join(pieces) == text:
            ends = list(itertools.accumulate(len(x) for x in pieces))
        else:
            ends = [len(self.tokenizer.decode([t for t, _ in kept[:k + 1]], skip_special_tokens=True))
                    for k in range(len(kept))]
        return [(end, p) for end, (_, p) in zip(ends, kept)]

    def _choice_probs(self, requests: list[Request], choices: Choices) -> list[dict[str, float]]:
        if self._dot_ids is None:
            self._prepare_tokens()
        key = (choices.prefix, tuple(choices.options.items()), choices.numeric)
        if key not in self._tries:
            self._tries[key] = self._build_trie(choices)
        trie = self._tries[key]
        rows = trie.rows
        keep = max(len(r) for r in rows) + 1
        self._check_text_lengths(requests, keep)
        dists = self._row_dists_shared(requests, rows, choices.prefix) if len(rows) > 1 and self.share_prompt else \
            self._row_dists_joined(requests, rows, keep, choices.prefix)
        cont = {label: self._continuation_ids(chars) for label, chars in trie.ends.items()}
        return [trie.label_probs({prefix: dists[i, j, depth] for prefix, (j, depth) in trie.where.items()}, cont)
                for i in range(len(requests))]

    def _row_dists_joined(self, requests: list[Request], rows: list[list[int]], keep: int, prefix: str):
        """Log next-token distributions [request, row, depth] from ONE forward pass over prompt + row texts
        (the cheapest way when there is one row: no cache to keep)."""
        import torch

        batch = [r for r in requests for _ in rows]
        suffixes = [self.tokenizer.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False)
                    for _ in requests for row in rows]
        inputs = self.encode(batch, suffixes)
        self._check_encoded(inputs, len(rows), len(rows[0]), keep)
        ids = inputs["input_ids"]
        for b in range(ids.shape[0]):  # each row must end with its answer tokens (decode -> re-encode intact)
            row = rows[b % len(rows)]
            if row and ids[b, -len(row):].tolist() != row:
                raise RuntimeError(_reencode_error(prefix))
        with torch.inference_mode():
            logits = self.model(**inputs, logits_to_keep=keep).logits.float()
        logp = torch.log_softmax(logits, dim=-1).view(len(requests), len(rows), keep, -1)
        depth = max(len(r) for r in rows)
        out = logp.new_empty(len(requests), len(rows), depth + 1, logp.shape[-1])
        for j, row in enumerate(rows):  # row j's depth d sits at kept position keep - len(row) - 1 + d
            out[:, j, :len(row) + 1] = logp[:, j, keep - len(row) - 1:]
        return out

    def _row_dists_shared(self, requests: list[Request], rows: list[list[int]], prefix: str):
        """The same distributions as `_row_dists_joined`, with the prompt run once: a forward pass over the
        prompts keeps their KV cache, which is repeated for each row, then one pass over the rows' few answer
        tokens. A 0-100 score (9 rows) costs one prompt pass instead of nine, and the media are processed once.

        Positions continue each prompt: multimodal-RoPE models (Qwen-VL) get real-token count + k + their
        rope delta, as in generation; others count from the padded length, as their prefill did."""
        import torch

        texts = [self.tokenizer.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False)
                 for row in rows]
        for r in requests:  # the answer tokens must be what the tokenizer makes of prompt + answer text
            tail = self.prompt_text(r)[-64:]
            for row, text in zip(rows, texts):
                if self.tokenizer.encode(tail + text, add_special_tokens=False)[-len(row):] != row:
                    raise RuntimeError(_reencode_error(prefix))
        inputs = self.encode(requests)
        depth = max(len(r) for r in rows)
        self._check_encoded(inputs, 1, 0, depth + 1)
        inner = getattr(self.model, "model", None)
        mrope = hasattr(inner, "rope_deltas")
        if mrope:
            inner.rope_deltas = None  # a stale delta from an earlier call must not place these prompts
        b, width = len(requests), inputs["input_ids"].shape[1]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        answer = torch.tensor([row + [pad] * (depth - len(row)) for row in rows], device=self.model.device)
        mask = inputs["attention_mask"]
        steps = torch.arange(depth, device=mask.device)
        # The repeated cache is the memory cost (rows x prompts copies): at most ROWS_PER_PASS sequences at once.
        group = max(1, ROWS_PER_PASS // b)
        rest = []
        with torch.inference_mode():
            first = self.model(**inputs, use_cache=True, logits_to_keep=1)
            prompt_cache = first.cache if hasattr(first, "cache") else first.past_key_values
            for g in range(0, len(rows), group):
                n = min(group, len(rows) - g)
                cache = prompt_cache if n == len(rows) else copy.deepcopy(prompt_cache)
                cache.batch_repeat_interleave(n)
                kw: dict[str, Any] = {}
                if mrope and inner.rope_deltas is not None:
                    pos = mask.sum(1, keepdim=True) + steps + inner.rope_deltas.to(mask.device)  # [request, k]
                    kw["position_ids"] = pos.repeat_interleave(n, 0).unsqueeze(0).expand(3, -1, -1)
                full_mask = torch.cat([mask.repeat_interleave(n, 0), mask.new_ones(b * n, depth)], 1)
                kw[self._cache_arg] = cache
                more = self.model(input_ids=answer[g:g + n].repeat(b, 1), attention_mask=full_mask,
                                  cache_position=width + steps, use_cache=False, **kw)
                rest.append(torch.log_softmax(more.logits.float(), dim=-1).view(b, n, depth, -1))
        start = torch.log_softmax(first.logits[:, -1].float(), dim=-1)
        return torch.cat([start[:, None, None].expand(-1, len(rows), 1, -1), torch.cat(rest, 1)], 2)

    def _continuation_ids(self, chars: str) -> list[int]:
        """Token ids that, right after a numeral, make it longer: digits, and the decimal point if "." in chars."""
        return self._digit_ids + (self._dot_ids if "." in chars else [])

    def _build_trie(self, choices: Choices) -> _Trie:
        seqs = {label: self.tokenizer.encode(choices.prefix + text, add_special_tokens=False)
                for label, text in choices.options.items()}
        return _Trie.build(seqs, choices)


# ---------------------------------------------------------------------- the option trie
@dataclass
class _Trie:
    """Token paths of the answer options, and the rows that expose every distribution they need.

    P(option) is proportional to the product of its tokens' probabilities. Phrases are cut where they
    become unique (the rest of a phrase follows). Numerals are read at every token after their shared
    prefix: P("3.7") = P(3) P(. | 3) P(7 | 3.), and a numeral that is the start of a longer option ("3" of
    "3.7", "1" of "10") is further multiplied by P(no continuing token follows): no digit, and no decimal
    point where an option continues with one. The result is normalised over the options: the probability
    of each option given that the answer is one of them.

    A row is the prompt + the tokens of one deepest prefix at which a distribution is needed; one forward
    pass over the rows gives every distribution along them. Rows per prompt: phrases 1 ("Image "), 1-5 1,
    1-10 1, 0-100 9; with one decimal, 1-5 needs 5 ("1." .. "5."); with two, 41 ("1.0" .. "4.9", "5.0").
    """

    paths: dict[str, list[int]]
    ends: dict[str, str]  # numerals another option extends -> the characters that would continue them
    rows: list[list[int]] = field(default_factory=list)
    where: dict[tuple[int, ...], tuple[int, int]] = field(default_factory=dict)  # prefix -> (row, depth)

    @classmethod
    def build(cls, seqs: dict[str, list[int]], choices: Choices) -> _Trie:
        if choices.numeric:
            ends = {k: choices.continuation(k) for k in choices.ends()}
            as_tuples = [tuple(s) for s in seqs.values()]
            shared = len(_common_prefix(as_tuples))
            needed = {s[:k] for s in as_tuples for k in range(shared, len(s))}
            needed |= {tuple(seqs[k]) for k in ends}
        else:  # a phrase is decided as soon as its tokens stop being shared
            seqs = {k: _unique_prefix(k, s, seqs) for k, s in seqs.items()}
            ends = {}
            needed = {tuple(s[:k]) for s in seqs.values() for k in range(len(s))}
            needed = {p for p in needed if _fanout(p, seqs.values()) > 1}
        trie = cls(seqs, ends)
        deepest = [p for p in needed if not any(len(q) > len(p) and q[:len(p)] == p for q in needed)]
        for row in sorted(deepest) or [()]:
            trie.rows.append(list(row))
            for depth in range(len(row) + 1):
                trie.where.setdefault(row[:depth], (len(trie.rows) - 1, depth))
        return trie

    def label_probs(self, logp: dict[tuple[int, ...], Any], continuing: dict[str, list[int]]) -> dict[str, float]:
        """Option probabilities from log-distributions at the prefixes in `where`; `continuing[label]`: the
        token ids that would make numeral `label` longer."""
        import math

        scores = {}
        for label, path in self.paths.items():
            total = 0.0
            for k, tok in enumerate(path):
                d = logp.get(tuple(path[:k]))
                if d is not None:  # prefixes off every row have a single continuation: factor 1
                    total += float(d[tok])
            if label in self.ends:
                p_more = float(logp[tuple(path)][continuing[label]].exp().sum())
                total += math.log(max(1e-12, 1.0 - p_more))
            scores[label] = total
        top = max(scores.values())
        weights = {k: math.exp(v - top) for k, v in scores.items()}
        z = sum(weights.values())
        return {k: w / z for k, w in weights.items()}


def _reencode_error(prefix: str) -> str:
    return (f"the tokenizer does not reproduce the answer prefix {prefix!r} token for token; logprob mode cannot "
            "be used with this model")


def _common_prefix(seqs: list[tuple[int, ...]]) -> tuple[int, ...]:
    first = min(seqs, key=len)
    for k in range(len(first)):
        if any(s[k] != first[k] for s in seqs):
            return first[:k]
    return first


def _fanout(prefix: tuple[int, ...], seqs) -> int:
    n = len(prefix)
    return len({s[n] for s in seqs if len(s) > n and tuple(s[:n]) == prefix})


def _unique_prefix(label: str, seq: list[int], seqs: dict[str, list[int]]) -> list[int]:
    others = [s for k, s in seqs.items() if k != label]
    for k in range(1, len(seq) + 1):
        if all(o[:k] != seq[:k] for o in others):
            return seq[:k]
    raise ValueError(f"answer option {label!r} is a prefix of another option; logprob mode cannot separate them")


class _ChosenLogprobs:
    """A logits processor that leaves the scores alone and records each row's highest log-probability per step:
    under greedy decoding, the log-probability of the token it picks (reason-logprob's `reasoning_prob`)."""

    def __init__(self) -> None:
        self.steps: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        self.steps.append(torch.log_softmax(scores.float(), -1).max(-1).values)
        return scores
