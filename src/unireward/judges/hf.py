"""The `hf` backend: a transformers VLM (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision) run in-process.

Loading goes through `AutoProcessor.from_pretrained` and `AutoModelForImageTextToText.from_pretrained`,
from a hub id or a local folder, exactly as for any released checkpoint. Batches are left-padded so the
last position of every row is its last real token.

Logprob mode tokenises the answer options (after the assistant prefix) into token paths and reads every
distribution they need from ONE forward pass per batch: a row of prompt + the tokens leading to the
deepest branching point yields all the next-token distributions along it. "Image 1 is better" vs
"Image 2 is better" vs "Both images are equally good" needs one row (prompt + "Image "). Integer scales
read digit by digit: 1-5 needs one row, 1-10 one ("1" then "0" or end), 0-100 nine. Only the logits of
the last few positions are computed (`logits_to_keep`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unireward.judges.arch import get_arch
from unireward.judges.base import Choices, Judge, Request


DTYPES = ("auto", "float32", "bfloat16", "float16")


class HFJudge(Judge):
    """A judge backed by a transformers image-text-to-text model."""

    def __init__(self, model: str | Path, family: str | None = None, device: str | None = None,
                 dtype: str = "auto", processor_kwargs: dict | None = None, **judge_kwargs: Any):
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
        self.model_path = str(model)
        config = AutoConfig.from_pretrained(self.model_path)
        self.arch = get_arch(config.model_type)
        super().__init__(family=family or self.arch.default_family, **judge_kwargs)
        self.name = self.model_path
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        load_kw: dict[str, Any] = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
        if self.device == "auto":
            load_kw["device_map"] = "auto"
        self.processor = AutoProcessor.from_pretrained(self.model_path, **(processor_kwargs or {}))
        self.model = AutoModelForImageTextToText.from_pretrained(self.model_path, **load_kw).eval()
        if self.device != "auto":
            self.model.to(self.device)
        self.tokenizer = self.processor.tokenizer
        self._tries: dict[tuple, _Trie] = {}
        vocab = self.tokenizer.get_vocab()
        self._digit_ids = [i for t, i in vocab.items() if t.isascii() and t.isdigit()]

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
        """The exact prompt string the model sees (chat template applied, generation prompt added)."""
        return self.processor.apply_chat_template(self._messages(req), add_generation_prompt=True, tokenize=False)

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

    # ------------------------------------------------------------------ primitives
    def _generate(self, requests: list[Request], max_new_tokens: int) -> list[str]:
        import torch

        inputs = self.encode(requests)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new = out[:, inputs["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)

    def _choice_probs(self, requests: list[Request], choices: Choices) -> list[dict[str, float]]:
        import torch

        key = (choices.prefix, tuple(choices.options.items()), choices.numeric)
        if key not in self._tries:
            self._tries[key] = self._build_trie(choices)
        trie = self._tries[key]
        rows = trie.rows
        batch = [r for r in requests for _ in rows]
        suffixes = [self.tokenizer.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False)
                    for _ in requests for row in rows]
        inputs = self.encode(batch, suffixes)
        ids = inputs["input_ids"]
        keep = max(len(r) for r in rows) + 1
        for j, row in enumerate(rows):  # the prefix must survive decode -> re-encode inside the full prompt
            if row and ids[j, -len(row):].tolist() != row:
                raise RuntimeError(f"the tokenizer does not reproduce the answer prefix {choices.prefix!r} "
                                   "token for token; logprob mode cannot be used with this model")
        with torch.inference_mode():
            logits = self.model(**inputs, logits_to_keep=keep).logits.float()
        logp = torch.log_softmax(logits, dim=-1)
        out = []
        for i in range(len(requests)):
            dists = {}
            for prefix, (j, depth) in trie.where.items():
                pos = keep - len(rows[j]) - 1 + depth  # index among the kept (last `keep`) positions
                dists[prefix] = logp[i * len(rows) + j, pos]
            out.append(trie.label_probs(dists, self._digit_ids))
        return out

    def _build_trie(self, choices: Choices) -> _Trie:
        seqs = {label: self.tokenizer.encode(choices.prefix + text, add_special_tokens=False)
                for label, text in choices.options.items()}
        return _Trie.build(seqs, numeric=choices.numeric)


# ---------------------------------------------------------------------- the option trie
@dataclass
class _Trie:
    """Token paths of the answer options, and the rows that expose every distribution they need.

    P(option) is proportional to the product of its tokens' probabilities (phrases are cut where they
    become unique; the rest of a phrase follows). A number that is also the start of a longer one ("1" vs
    "10") is further multiplied by P(no digit follows). The result is normalised over the options: the
    probability of each option given that the answer is one of them.
    """

    paths: dict[str, list[int]]
    ends: set[str]  # options whose number may continue into another option
    rows: list[list[int]] = field(default_factory=list)
    where: dict[tuple[int, ...], tuple[int, int]] = field(default_factory=dict)  # prefix -> (row, depth)

    @classmethod
    def build(cls, seqs: dict[str, list[int]], numeric: bool) -> _Trie:
        if not numeric:  # a phrase is decided as soon as its tokens stop being shared
            seqs = {k: _unique_prefix(k, s, seqs) for k, s in seqs.items()}
        as_tuples = {k: tuple(s) for k, s in seqs.items()}
        ends = {k for k, s in as_tuples.items() if any(o != s and o[:len(s)] == s for o in as_tuples.values())}
        trie = cls(seqs, ends)
        branching = [p for p in trie._prefixes() if trie._fanout(p) > 1]
        deepest = [p for p in branching if not any(q != p and q[:len(p)] == p for q in branching)]
        for row in sorted(deepest) or [()]:
            trie.rows.append(list(row))
            for depth in range(len(row) + 1):
                trie.where.setdefault(row[:depth], (len(trie.rows) - 1, depth))
        return trie

    def _prefixes(self) -> set[tuple[int, ...]]:
        out = {tuple(s[:k]) for s in self.paths.values() for k in range(len(s))}
        return out | {tuple(self.paths[k]) for k in self.ends}

    def _fanout(self, prefix: tuple[int, ...]) -> int:
        n = len(prefix)
        nxt = {tuple(s)[n] for s in self.paths.values() if len(s) > n and tuple(s[:n]) == prefix}
        ends_here = any(tuple(self.paths[k]) == prefix for k in self.ends)
        return len(nxt) + ends_here

    def label_probs(self, logp: dict[tuple[int, ...], Any], digit_ids: list[int]) -> dict[str, float]:
        """Option probabilities from log-distributions at the prefixes in `where`."""
        import math

        scores = {}
        for label, path in self.paths.items():
            total = 0.0
            for k, tok in enumerate(path):
                d = logp.get(tuple(path[:k]))
                if d is not None:  # prefixes off every row have a single continuation: factor 1
                    total += float(d[tok])
            if label in self.ends:
                p_digit = float(logp[tuple(path)][digit_ids].exp().sum())
                total += math.log(max(1e-12, 1.0 - p_digit))
            scores[label] = total
        top = max(scores.values())
        weights = {k: math.exp(v - top) for k, v in scores.items()}
        z = sum(weights.values())
        return {k: w / z for k, w in weights.items()}


def _unique_prefix(label: str, seq: list[int], seqs: dict[str, list[int]]) -> list[int]:
    others = [s for k, s in seqs.items() if k != label]
    for k in range(1, len(seq) + 1):
        if all(o[:k] != seq[:k] for o in others):
            return seq[:k]
    raise ValueError(f"answer option {label!r} is a prefix of another option; logprob mode cannot separate them")
