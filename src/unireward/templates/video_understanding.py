"""Video understanding: a video (as frames), a question, and one or two answers (texts).

Layouts, following the training prompts of each checkpoint family (upstream.md section 2.4), in our words:
- v1 pairwise (Qwen, ShareGPTVideo-DPO): the task line, ``Question:``/``Answer 1:``/``Answer 2:`` without
  brackets, four numbered criteria, the two numbered output steps with the example
  "Overall Judgment: Answer 1 is better than Answer 2.", and the no-tie rule; no framing line, no trailing
  newline. The verdict is read after the last "Overall Judgment" (also in logprob mode).
- v1-llava pairwise (the LLaVA-Critic layout for video): the five factors inline, the request to pick the
  better response, the framing line, then ``Question: [...]``, ``Response 1: [...]``, ``Response 2: [...]``.
  The verdict follows the reasoning with no marker, so logprob mode is not offered.
- v1 pointwise (shared by v1 and v1-llava): the five factors inline, the 1-5 ``Final Score:`` request, the
  framing line, ``Question: [...]`` and ``Response: [...]``; no trailing newline.
- think: the Think instruction paragraph, ``Example format:`` block, placeholder note, framing line, then
  ``Question:``/``Answer 1:``/``Answer 2:`` without brackets and a trailing newline.
- think-qwen3vl: the strict-format prompt with the question in corner brackets 「...」 and the answers as a
  bulleted list inside the numbered procedure.
- 2.0 reuses v1.
"""

from unireward.tasks import Form, Task
from unireward.templates.base import STRICT_THINK_INSTRUCTIONS, Template, alias
from unireward.templates.image_understanding import critic_factors


T, PAIR, POINT = Task.VIDEO_UNDERSTANDING, Form.PAIR, Form.POINT

_QWEN = {"A": "Answer 1 is better than Answer 2", "B": "Answer 2 is better than Answer 1"}
_LLAVA = {"A": "Response 1 is better than Response 2", "B": "Response 2 is better than Response 1"}
_THINK = {"A": "Answer 1 is better", "B": "Answer 2 is better"}

_PAIR_TEXT = (
    "Please analyse the following video and question, then decide which of the two answers given is better\n"
    "Question: {prompt}\n"
    "Answer 1: {answer_a}\n"
    "Answer 2: {answer_b}\n"
    "Judge both answers by these criteria:\n"
    "1. Accuracy: how well does the answer agree with what the video shows?\n"
    "2. Completeness: does the answer cover every part of the question?\n"
    "3. Clarity: is the answer easy to follow and well put?\n"
    "4. Relevance: does the answer stay on the question and the video?\n"
    "Once you have evaluated them:\n"
    "1. Explain your reasoning for each criterion.\n"
    '2. Give an overall judgment of which answer is better (Answer 1 or Answer 2). For example: "Overall '
    'Judgment: Answer 1 is better than Answer 2."\n'
    "Write a structured, detailed response that shows you have understood both what the video shows and what "
    "the texts say. You must pick one of the two answers; you cannot say that both answers are equally good."
)

_LLAVA_PAIR_TEXT = (
    "You are given a video and a question about it. Review the two responses on the following 5 factors: "
    + critic_factors("video")
    + " Pick the response that answers the question better.\n"
    "Your task is provided as follows:\n"
    "Question: [{prompt}]\n"
    "Response 1: [{answer_a}]\n"
    "Response 2: [{answer_b}]"
)

_POINT_TEXT = (
    "You are given a video and a question about it. Review the response on the following 5 factors: "
    + critic_factors("video")
    + "\nAssign the response a score from {lo} to {hi} based on the 5 factors above, after 'Final Score:'.\n"
    "Your task is provided as follows:\n"
    "Question: [{prompt}]\n"
    "Response: [{answer}]"
)

_THINK_TEXT = (
    "You are given a question and a reference video: evaluate the two answers (Answer 1 and Answer 2). Judge "
    "them on these key dimensions:\n"
    "1. Semantic accuracy: does the answer agree with what the video shows, over time as well?\n"
    "2. Correctness: is the answer factually and logically right?\n"
    "3. Clarity: is the answer fluent, clear and coherent?\n"
    "You may consider other dimensions when they are relevant (e.g. temporal reasoning, causal "
    "understanding, visual detail, emotional perception). For each dimension, score both answers from 1 to "
    "10 and explain briefly. Then compute each answer's total and show it as a sum of the dimension scores. "
    "Put your full reasoning inside <think> tags. Inside the <answer> tag, write exactly one of: 'Answer 1 "
    "is better' or 'Answer 2 is better'. Write nothing else inside <answer>.\n\n"
    "Example format:\n"
    "<think>\n"
    "1. Semantic accuracy: Answer 1 (8/10) - ...; Answer 2 (9/10) - ...\n"
    "2. Correctness: Answer 1 (7/10) - ...; Answer 2 (6/10) - ...\n"
    "3. Clarity: Answer 1 (9/10) - ...; Answer 2 (8/10) - ...\n"
    "[Additional dimensions if any]: Answer 1 (7/10) - ...; Answer 2 (6/10) - ...\n"
    "Total score:\n"
    "Answer 1: 8+7+9+7=31\n"
    "Answer 2: 9+6+8+6=29\n"
    "</think>\n"
    "<answer>Answer 1 is better</answer>\n\n"
    "**Note: the scores and the answer in this example are placeholders that only show the format; base "
    "your own evaluation on the two given answers.**\n\n"
    "Your task is provided as follows:\n"
    "Question: {prompt}\n"
    "Answer 1: {answer_a}\n"
    "Answer 2: {answer_b}\n"
)

_QWEN3VL_TEXT = (
    "You are an objective, precise judge of video understanding. You are given a question, a reference video "
    "and two candidate answers. Analyse them carefully and decide which answer is better.\n\n"
    + STRICT_THINK_INSTRUCTIONS.format(item="Answer")
    + "Evaluation procedure:\n\n"
    "1. Evaluate two answers to the following question about the reference video: 「{prompt}」. The answers "
    "are:\n"
    "- Answer 1: {answer_a}\n"
    "- Answer 2: {answer_b}\n\n"
    "2. Evaluate the two answers on these core dimensions:\n"
    "- Semantic accuracy (does the answer agree with what the video shows, over time as well?)\n"
    "- Correctness (is the answer factually and logically right?)\n"
    "- Clarity (is the answer fluent, clear and coherent?)\n\n"
    "3. You may add at most two further dimensions when they clearly matter (e.g. temporal reasoning, causal "
    "understanding, visual detail, emotional perception). When none do, keep only the three core "
    "dimensions.\n\n"
    "4. For every dimension:\n"
    "- Score Answer 1 and Answer 2 from 1 to 10.\n"
    "- Justify each score briefly (2 to 5 short sentences).\n"
    "- Write it as exactly this 3-line block, with its numbering, line breaks and indentation:\n"
    "    N. Dimension name:\n"
    "        Answer 1 (x/10) - rationale;\n"
    "        Answer 2 (y/10) - rationale\n\n"
    "5. After the last dimension, add up each answer's total and show the sum, exactly like this:\n"
    "    Total score:\n"
    "    Answer 1: x+x+x(+...)=total\n"
    "    Answer 2: y+y+y(+...)=total\n\n"
    "6. All reasoning, analysis, scores and totals go strictly inside <think> and </think>; nothing about "
    "reasoning or scores may appear outside <think>.\n\n"
    "Required output format (follow it exactly, line breaks and indentation included):\n\n"
    "<think>\n"
    "1. Semantic accuracy:\n    Answer 1 (9/10) - ...;\n    Answer 2 (7/10) - ...\n"
    "2. Correctness:\n    Answer 1 (8/10) - ...;\n    Answer 2 (6/10) - ...\n"
    "3. Clarity:\n    Answer 1 (9/10) - ...;\n    Answer 2 (8/10) - ...\n"
    "[Additional dimension if any]:\n    Answer 1 (7/10) - ...;\n    Answer 2 (6/10) - ...\n"
    "[Additional dimension if any]:\n    Answer 1 (8/10) - ...;\n    Answer 2 (7/10) - ...\n"
    "Total score:\n"
    "Answer 1: 9+8+9+7+8=41\n"
    "Answer 2: 7+6+8+6+7=34\n"
    "</think>\n"
    "<answer>Answer 1 is better</answer>\n\n"
    "Note: this example only shows the exact format (numbering, line breaks, indentation and style). Follow "
    "it exactly, but base your evaluation on the given question, reference video and candidate answers.\n"
)

_V1_PAIR = Template(T, PAIR, "v1", _PAIR_TEXT, "phrase", phrases=_QWEN, marker="Overall Judgment",
                    logprob_prefixes={"": "Overall Judgment: "}, max_new_tokens=1024)
_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(1, 5),
                     logprob_prefixes={"": "Final Score: "}, max_new_tokens=1024)

TEMPLATES = [
    _V1_PAIR,
    Template(T, PAIR, "v1-llava", _LLAVA_PAIR_TEXT, "phrase", phrases=_LLAVA, max_new_tokens=1024),
    alias(_V1_PAIR, "2.0"),
    Template(T, PAIR, "think", _THINK_TEXT, "think", phrases=_THINK, max_new_tokens=4096),
    Template(T, PAIR, "think-qwen3vl", _QWEN3VL_TEXT, "think", phrases=_THINK, max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    alias(_V1_POINT, "2.0"),
    alias(_V1_POINT, "think"),
    alias(_V1_POINT, "think-qwen3vl"),
]
