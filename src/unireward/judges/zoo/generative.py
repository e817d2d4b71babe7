"""Generative reward models of the zoo: judges that write an answer which is read into numbers.

- **VideoScore2** (``TIGER-Lab/VideoScore2``): a stock ``Qwen2_5_VLForConditionalGeneration`` checkpoint (no
  reward head, no remote code). One user turn holds the video then the authors' query (``prompts/
  videoscore2.txt``, the template of their ``eval/benchmark.py`` with the caption filled in), with the chat
  template's generation prompt. The answer ends in ``visual quality: N; text-to-video alignment: N,
  physical/common-sense consistency: N``; it is parsed with the authors' pattern. Each dimension is the
  authors' "float" reading (``eval_methods/vs2_float.py``, ``ll_based_soft_score_normed``): at the step that
  wrote the digit after the dimension's label, among the probabilities of the tokens "1"-"5" the most likely
  score times its share of their total mass. ``reading = "hard"`` gives the written integers instead.
  The value is the mean of the three dimensions (1-5).
- **LiFT-Critic** (``Fudan-FUXI/LiFT-Critic-13b-lora``, on VILA1.5-13b): see `LiFTCritic`.
- **VisionReward** (``THUDM/VisionReward-Video``): see `VisionRewardVideo`.

Design choices that differ from the reference scripts, on purpose:
- Decoding is greedy (VideoScore2's script samples at temperature 0.7): results are deterministic.
- The video is the judge's ``num_frames`` uniformly sampled frames (VideoScore2's script reads 2 fps through
  qwen-vl-utils); frame sizes follow the processor's defaults unless ``max_pixels`` is set.
- An answer that does not have the three scores fails only its item (``value = None``, the answer in
  ``error``), never a default score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch

from unireward.judges.zoo.qwen_head import prompt_text
from unireward.judges.zoo.scorer import Numbers, ScorerInput


VS2_DIMS = ("visual_quality", "text_alignment", "physical_consistency")
VS2_LABELS = ("visual quality:", "text-to-video alignment:", "physical/common-sense consistency:")
VS2_PATTERN = re.compile(r"visual quality:\s*(\d+).*?text-to-video alignment:\s*(\d+).*?"
                         r"physical/common-sense consistency:\s*(\d+)", re.DOTALL | re.IGNORECASE)


def parse_videoscore2(text: str) -> tuple[int, int, int] | None:
    """The three integers of a VideoScore2 answer (the authors' pattern), or None."""
    m = VS2_PATTERN.search(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _digit_after(tokenizer: Any, ids: list[int], label: str) -> int:
    """Index in `ids` of the first digit token after the first occurrence of `label`'s tokens (-1 if none)."""
    pattern = tokenizer.encode(label, add_special_tokens=False)
    for i in range(len(ids) - len(pattern)):
        if ids[i:i + len(pattern)] == pattern:
            for j in range(i + len(pattern), len(ids)):
                if tokenizer.decode([ids[j]], skip_special_tokens=True).strip().isdigit():
                    return j
            return -1
    return -1


def soft_score(tokenizer: Any, logits: torch.Tensor) -> float | None:
    """The authors' "normed" soft score at one step: with p(s) the probability of the token of s = 1..5, the
    argmax s times p(s) / sum p. None when no score is a single token."""
    probs = torch.log_softmax(logits.float(), dim=-1).exp()
    values = []
    for s in range(1, 6):
        ids = tokenizer.encode(str(s), add_special_tokens=False)
        if len(ids) == 1:
            values.append((s, float(probs[ids[0]])))
    if not values:
        return None
    total = sum(p for _, p in values)
    best, p_best = max(values, key=lambda v: v[1])
    return best * p_best / total if total > 0 else 0.0


def read_videoscore2(tokenizer: Any, text: str, ids: list[int], step_logits: Sequence[torch.Tensor],
                     reading: str = "soft") -> Numbers | str:
    """A generated VideoScore2 answer (text, generated ids, the logits of each generated step) as numbers."""
    hard = parse_videoscore2(text)
    if hard is None:
        return f"unparseable VideoScore2 answer (no 'visual quality: N; ... consistency: N'): {text[-300:]!r}"
    if reading == "hard":
        return Numbers(dict(zip(VS2_DIMS, map(float, hard))), text)
    out = {}
    for dim, label in zip(VS2_DIMS, VS2_LABELS):
        k = _digit_after(tokenizer, ids, label)
        value = soft_score(tokenizer, step_logits[k]) if k >= 0 else None
        if value is None:
            return f"no score token after {label!r} in the VideoScore2 answer: {text[-300:]!r}"
        out[dim] = value
    return Numbers(out, text)


class VideoScore2:
    """VideoScore2 behind the scorer interface (generate, then read; see the module docstring)."""

    dims = VS2_DIMS

    def __init__(self, source: str, device: str, dtype: Any, local: bool = False, prompt: str = "videoscore2",
                 max_new_tokens: int = 1024, reading: str = "soft", max_pixels: int | None = None):
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        if reading not in ("soft", "hard"):
            raise ValueError(f"reading must be soft or hard, got {reading!r}")
        self.processor = AutoProcessor.from_pretrained(source)
        self.processor.tokenizer.padding_side = "left"  # batched generation
        self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(source, dtype=dtype).eval().to(device)
        self.template, self.device = prompt_text(prompt), device
        self.max_new_tokens, self.reading, self.max_pixels = max_new_tokens, reading, max_pixels

    def messages(self, x: ScorerInput) -> list[dict]:
        text = self.template.replace("{text_prompt}", x.prompt)
        return [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}]

    def encode(self, inputs: Sequence[ScorerInput]):
        texts = [self.processor.apply_chat_template(self.messages(x), add_generation_prompt=True, tokenize=False)
                 for x in inputs]
        kw: dict[str, Any] = {"do_sample_frames": False}
        if self.max_pixels:
            kw["size"] = {"shortest_edge": 56 * 56, "longest_edge": self.max_pixels}
        return self.processor(text=texts, videos=[x.images for x in inputs], videos_kwargs=kw, padding=True,
                              return_tensors="pt").to(self.device)

    def score(self, inputs: Sequence[ScorerInput]) -> list[Numbers | str]:
        batch = self.encode(inputs)
        tok = self.processor.tokenizer
        with torch.inference_mode():
            out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      output_scores=True, return_dict_in_generate=True,
                                      pad_token_id=tok.pad_token_id)
        start = batch["input_ids"].shape[1]
        results: list[Numbers | str] = []
        for row in range(len(inputs)):
            ids = out.sequences[row, start:].tolist()
            text = tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            steps = [s[row] for s in out.scores]
            results.append(read_videoscore2(tok, text, ids, steps, self.reading))
        return results


# ---------------------------------------------------------------------------------------------------- LiFT
LIFT_DIMS = ("semantic_consistency", "fidelity", "motion")
LIFT_LABELS = {"Good": 0.9, "Normal": 0.2, "Bad": 0.05}


def lift_label_score(answer: str) -> float:
    """LiFT's reading of one critic answer (``CogVideo/process_reward_score.py``): "Normal" anywhere -> 0.2,
    else "Bad" anywhere -> 0.05, else 0.9 (the reference's order: an answer naming neither counts as Good)."""
    if "Normal" in answer:
        return LIFT_LABELS["Normal"]
    if "Bad" in answer:
        return LIFT_LABELS["Bad"]
    return LIFT_LABELS["Good"]


def read_lift(answers: Sequence[str]) -> Numbers:
    """The three critic answers (semantic consistency, fidelity, motion) as numbers; value = their mean."""
    return Numbers({d: lift_label_score(a) for d, a in zip(LIFT_DIMS, answers)},
                   " | ".join(a.strip() for a in answers))


class LiFTCritic:
    """LiFT-Critic: VILA1.5 (a LLaVA-Llama with its own ``llava`` package) + the LiFT LoRA, asked three questions
    per video (``prompts/lift_questions.txt``, each after the caption, the frames as ``<image>`` lines first,
    the ``vicuna_v1`` conversation), as ``LiFT-Critic/test/run_critic_13b.py``. Each answer starts with
    Good / Normal / Bad, read by `lift_label_score`; the value is the mean of the three (0.05-0.9).

    VILA is not in transformers and has no hub remote code: this backend needs the authors' ``llava`` package
    (installed from github.com/CodeGoat24/LiFT, ``environment_setup.sh``); without it loading says so. Decoding
    is greedy (the script samples at temperature 0.2). Not tested here (no local build of VILA)."""

    dims = LIFT_DIMS

    def __init__(self, source: str, device: str, dtype: Any, local: bool = False,
                 base: str = "Efficient-Large-Model/VILA1.5-13b", max_new_tokens: int = 512):
        try:
            from llava.mm_utils import get_model_name_from_path
            from llava.model.builder import load_pretrained_model
        except ImportError:
            raise ValueError("LiFT-Critic runs on VILA, which transformers does not have: install the authors' "
                             "`llava` package (github.com/CodeGoat24/LiFT, environment_setup.sh) to load it") from None
        self.tokenizer, self.model, self.image_processor, _ = load_pretrained_model(
            source, get_model_name_from_path(source), base)
        self.questions = prompt_text("lift_questions").splitlines()
        self.device, self.dtype, self.max_new_tokens = device, dtype, max_new_tokens

    def _ask(self, x: ScorerInput, question: str) -> str:
        from llava.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
        from llava.conversation import conv_templates
        from llava.mm_utils import process_images, tokenizer_image_token

        conv = conv_templates["vicuna_v1"].copy()
        conv.append_message(conv.roles[0], (DEFAULT_IMAGE_TOKEN + "\n") * len(x.images) + x.prompt + " " + question)
        conv.append_message(conv.roles[1], None)
        images = process_images(x.images, self.image_processor, self.model.config).to(self.model.device,
                                                                                        dtype=self.dtype)
        ids = tokenizer_image_token(conv.get_prompt(), self.tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.generate(ids.unsqueeze(0).to(self.model.device), images=[images], do_sample=False,
                                      max_new_tokens=self.max_new_tokens, use_cache=True)
        answer = self.tokenizer.batch_decode(out, skip_special_tokens=True)[0].strip()
        return answer[:-len(conv.sep2)].strip() if conv.sep2 and answer.endswith(conv.sep2) else answer

    def score(self, inputs: Sequence[ScorerInput]) -> list[Numbers | str]:
        return [read_lift([self._ask(x, q) for q in self.questions]) for x in inputs]


# ---------------------------------------------------------------------------------------------- VisionReward
def checklist_score(answers: Sequence[str], weights: Sequence[float]) -> float:
    """VisionReward-Video's score (``inference-video.py``): each answer is +1 when it is exactly "yes", else -1;
    the score is the mean of answer times weight. Comparing two videos by it is the reference's
    ``sum(diff * weight) > 0``."""
    if len(answers) != len(weights):
        raise ValueError(f"{len(answers)} answers for {len(weights)} checklist weights")
    return sum((1.0 if a == "yes" else -1.0) * w for a, w in zip(answers, weights)) / len(weights)


def second_frames(timestamps: Sequence[float], max_frames: int = 24) -> list[int]:
    """VisionReward-Video's "chat" frame choice: for each whole second 0, 1, ... up to the last timestamp
    (rounded) + 1, the frame whose timestamp is closest (the first on ties), at most `max_frames`."""
    ts = list(timestamps)
    out = []
    for second in range(round(max(ts)) + 1):
        out.append(min(range(len(ts)), key=lambda i: abs(ts[i] - second)))
        if len(out) >= max_frames:
            break
    return out


class VisionRewardVideo:
    """VisionReward-Video: CogVLM2-Video through its authors' remote code, asked its checklist of yes/no
    questions (``[[prompt]]`` replaced by the caption), one forward pass per question; the first answer token
    is read greedily (the reference generates with top_k=1 and decodes the first token) and the answers are
    summed with the checklist weights (`checklist_score`).

    The checklist (``VisionReward_video_qa_select.txt``) and its weights (``weight.json``) are files of the
    authors' GitHub repository (``VisionReward-Video/``), looked up next to the weights: put them in the folder
    given as ``source=`` (or name another folder or repo with ``checklist=``). Frames: a video file is read at
    one frame per second, at most 24 (the reference's "chat" strategy); a list of frames is used as given (at
    most 24). Not tested here beyond the opt-in flag and the checklist arithmetic (no local build of
    CogVLM2-Video)."""

    dims = ("visionreward",)

    def __init__(self, source: str, device: str, dtype: Any, local: bool = False, checklist: str | None = None,
                 questions: str = "VisionReward_video_qa_select.txt", weights: str = "weight.json",
                 max_frames: int = 24):
        import json

        from transformers import AutoModelForCausalLM, AutoTokenizer

        from unireward.judges.zoo.hub import fetch_file

        where = checklist or source
        try:
            self.questions = fetch_file(where, questions).read_text(encoding="utf-8").splitlines()
            self.weights = [float(w) for w in json.loads(fetch_file(where, weights).read_text())]
        except Exception as e:
            raise ValueError(f"VisionReward needs its checklist ({questions}) and weights ({weights}) from "
                             f"github.com/THUDM/VisionReward/VisionReward-Video/ in {where!r}: copy them into the "
                             f"source= folder or pass checklist=FOLDER ({type(e).__name__}: {e})") from None
        if len(self.questions) != len(self.weights):
            raise ValueError(f"{len(self.questions)} checklist questions but {len(self.weights)} weights")
        self.tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=True)
        self.model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, trust_remote_code=True)
        self.model.eval().to(device)
        self.device, self.dtype, self.max_frames = device, dtype, max_frames

    def read_video(self, src: Any) -> list:
        from pathlib import Path

        from unireward.media import MediaError, load_image

        if isinstance(src, (str, Path)):
            import av

            try:
                with av.open(str(src)) as c:
                    frames = [(float(f.time or 0.0), f.to_image().convert("RGB")) for f in c.decode(video=0)]
            except Exception as e:
                raise MediaError(f"{src}: corrupt or unreadable video ({e})") from None
            if not frames:
                raise MediaError(f"{src}: video has no frames")
            return [frames[i][1] for i in second_frames([t for t, _ in frames], self.max_frames)]
        return [load_image(f, name=f"<frame {i}>") for i, f in enumerate(list(src)[:self.max_frames])]

    def _answer(self, video: torch.Tensor, query: str) -> str:
        inputs = self.model.build_conversation_input_ids(tokenizer=self.tokenizer, query=query, images=[video],
                                                         history=[], template_version="chat")
        batch = {"input_ids": inputs["input_ids"].unsqueeze(0).to(self.device),
                 "token_type_ids": inputs["token_type_ids"].unsqueeze(0).to(self.device),
                 "attention_mask": inputs["attention_mask"].unsqueeze(0).to(self.device),
                 "images": [[inputs["images"][0].to(self.device).to(self.dtype)]]}
        with torch.inference_mode():
            logits = self.model(**batch).logits[0, -1]
        return self.tokenizer.decode([int(logits.argmax())])

    def score(self, inputs: Sequence[ScorerInput]) -> list[Numbers]:
        import numpy as np

        out = []
        for x in inputs:
            video = torch.from_numpy(np.stack([np.asarray(f) for f in x.images])).permute(3, 0, 1, 2)  # C,T,H,W
            answers = [self._answer(video, q.replace("[[prompt]]", x.prompt)) for q in self.questions]
            yes = sum(a == "yes" for a in answers)
            out.append(Numbers({"visionreward": checklist_score(answers, self.weights)},
                               f"{yes}/{len(answers)} yes"))
        return out
