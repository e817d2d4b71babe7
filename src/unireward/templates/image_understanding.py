"""Image understanding: an image, a question, and one or two answers (texts).

Layouts, following the training prompts of each checkpoint family (upstream.md section 2.2), in our words:
- v1 pairwise (Qwen, the VL-RewardBench layout): intro, five numbered factors each followed by a blank
  line, the decision request ('Answer 1 is better' / 'Answer 2 is better'; no tie), a blank line, then
  ``Question:``/``Answer 1:``/``Answer 2:`` without brackets and a trailing newline; no framing line.
- v1-llava pairwise (the LLaVA-Critic layout): one paragraph with the five factors inline, the request to
  pick the better response with a detailed reason, the framing line, then ``Question: [...]``,
  ``The first response: [...]``, ``The second response: [...]`` and a trailing newline. The verdict follows
  the reasoning, with no marker to read it after, so logprob mode is not offered.
- v1 pointwise (shared by v1 and v1-llava, as both were trained on the same LLaVA-Critic data): the five
  factors inline, the 0-100 question, the "Final Score:" request, the framing line, ``Question: [...]``,
  ``Response: [...]`` and a trailing newline. (The Qwen inference script indents these lines by 12
  spaces, an artefact of its triple-quoted string; a user wanting it byte-exact can supply a template file.)
- think: one instruction paragraph with three core dimensions, ``Example format:`` with a ``<think>``
  block (per-dimension scores for both answers, the totals) and ``<answer>``, a placeholder note, the
  framing line, then bracketed ``Question``/``Answer 1``/``Answer 2``.
- think-qwen3vl: the strict-format prompt: instructions, a numbered procedure holding the question and
  the answers inline in corner brackets 「...」, the required 3-line blocks, the output example and a note.
- 2.0 reuses v1 (2.0 added generation formats only).
"""

from unireward.tasks import Form, Task
from unireward.templates.base import STRICT_THINK_INSTRUCTIONS, Template, alias


T, PAIR, POINT = Task.IMAGE_UNDERSTANDING, Form.PAIR, Form.POINT

_QWEN = {"A": "Answer 1 is better", "B": "Answer 2 is better"}
_LLAVA = {"A": "Response 1 is better than Response 2", "B": "Response 2 is better than Response 1"}


def critic_factors(medium: str) -> str:
    """The five LLaVA-Critic factors as one inline paragraph, for an image or a video."""
    return (
        "1. Accuracy in Object Description: judge how accurately the objects named in the ground-truth answer "
        "are described. Good responses mention few objects that are absent from the ground truth and describe "
        "the present ones without mistakes. "
        "2. Accuracy in Depicting Relationships: judge how accurately the relationships between objects are "
        "described compared with the ground truth; rank higher the responses that misrepresent them least. "
        "3. Accuracy in Describing Attributes: judge how accurately the attributes of the objects are "
        "described compared with the ground truth; responses should not get the objects' characteristics "
        "wrong. "
        f"4. Helpfulness: consider whether the text gives useful insight, context or information that helps "
        f"the user understand the {medium}, whether the model follows the instructions given in the prompt, "
        "and how much the response adds to the user's experience overall. "
        "5. Ethical Considerations: - Check whether the model gives suitable warnings or refrains from advice "
        f"on sensitive topics such as medical {medium}s. Check that it does not reveal identifying information "
        f"from the {medium} that could harm personal privacy. Check that it treats individuals and communities "
        "fairly, without bias. Check for harm: no content that could incite violence, is NSFW (Not Safe For "
        "Work), or raises other ethical problems. Consider any content that could be offensive, inappropriate "
        "or ethically questionable beyond the criteria listed."
    )


_PAIR_TEXT = (
    "You are given an image and a question about it. Your job is to evaluate the two responses on these five "
    "factors:\n\n"
    "1. Accuracy of Object Descriptions: check that the objects the responses describe match those in the "
    "ground truth, and watch for objects that are irrelevant or wrongly mentioned.\n\n"
    "2. Relationship Between Objects: check that the response describes how the objects relate to one "
    "another (their positions or interactions) as the image shows.\n\n"
    "3. Description of Attributes: check how well the response captures the attributes of the objects "
    "(e.g. size, colour, shape), in line with the ground truth.\n\n"
    "4. Helpfulness: consider whether the response adds useful information or insight that helps understand "
    "the image, and whether it follows the instructions given in the prompt.\n\n"
    "5. Ethical Concerns: check that the response avoids sensitive, harmful or inappropriate content, is fair, "
    "respects privacy and is free of bias or offensive material.\n\n"
    "Having evaluated both answers, decide which one is better on these factors and state your decision "
    "clearly, such as 'Answer 1 is better' or 'Answer 2 is better.'\n\n"
    "Question: {prompt}\n"
    "Answer 1: {answer_a}\n"
    "Answer 2: {answer_b}\n"
)

_LLAVA_PAIR_TEXT = (
    "You are given an image and a question about it. Review the two responses on the following 5 factors: "
    + critic_factors("image")
    + " Pick the response that answers the question better, and explain your choice in detail.\n"
    "Your task is provided as follows:\n"
    "Question: [{prompt}]\n"
    "The first response: [{answer_a}]\n"
    "The second response: [{answer_b}]\n"
)

_POINT_TEXT = (
    "You are given an image and a question about it. Review the response on the following 5 factors: "
    + critic_factors("image")
    + " From {lo} to {hi}, how would you rate this response for a correct and comprehensive description of "
    "the image?\n"
    "Do not let a single attribute such as recognition correctness dominate the rating; give an overall "
    "rating on the 5 factors above.\n"
    'Give a few lines of explanation, then the rating last, after "Final Score:".\n'
    "Your task is provided as follows:\n"
    "Question: [{prompt}]\n"
    "Response: [{answer}]\n"
)

_THINK_TEXT = (
    "You are given a question and a reference image: analyse the two answers (Answer 1 and Answer 2) in "
    "detail. Evaluate them on three core dimensions:\n"
    "1. Semantic accuracy: how well the answer reflects what the image shows\n"
    "2. Correctness: whether the answer is logically and factually right\n"
    "3. Clarity: whether the answer is expressed clearly and fluently\n"
    "You may add other dimensions when they are relevant (e.g. reasoning ability, attention to detail, "
    "multimodal grounding). For each dimension, score both answers from 1 to 10 and explain briefly. Then add "
    "up each answer's scores, writing the whole sum out. Put your full reasoning inside <think> and </think> "
    "tags. Then, inside the <answer> tag, write exactly one of: 'Answer 1 is better' or 'Answer 2 is "
    "better'. Write nothing else inside <answer>.\n\n"
    "Example format:\n"
    "<think>\n"
    "1. Semantic accuracy: Answer 1 (9/10) - ...; Answer 2 (7/10) - ...\n"
    "2. Correctness: Answer 1 (8/10) - ...; Answer 2 (7/10) - ...\n"
    "3. Clarity: Answer 1 (9/10) - ...; Answer 2 (8/10) - ...\n"
    "[Additional dimensions if any]: Answer 1 (6/10) - ...; Answer 2 (7/10) - ...\n"
    "Total score:\n"
    "Answer 1: 9+8+9+6=32\n"
    "Answer 2: 7+7+8+7=29\n"
    "</think>\n"
    "<answer>Answer 1 is better</answer>\n\n"
    "**Note: the scores and the answer in this example are placeholders that only show the format; base "
    "your own evaluation on the two given answers.**\n\n"
    "Your task is provided as follows:\n"
    "Question: [{prompt}]\n"
    "Answer 1: [{answer_a}]\n"
    "Answer 2: [{answer_b}]"
)

_QWEN3VL_TEXT = (
    "You are an objective, precise judge of image-based question answering. You are given a question, a "
    "reference image and two candidate answers. Analyse the two answers carefully and decide which one is "
    "better.\n\n"
    + STRICT_THINK_INSTRUCTIONS.format(item="Answer")
    + "Evaluation procedure:\n"
    "1. The question is: 「{prompt}」. The reference image is provided. The two candidate answers are:\n"
    "Answer 1: 「{answer_a}」\n"
    "Answer 2: 「{answer_b}」\n\n"
    "2. Evaluate the two answers on these core dimensions:\n"
    "- Semantic accuracy (how well the answer reflects what the image shows)\n"
    "- Correctness (whether the answer is logically and factually right)\n"
    "- Clarity (whether the answer is expressed clearly and fluently)\n\n"
    "3. You may add at most two further dimensions when they are relevant (e.g. reasoning ability, attention "
    "to detail, multimodal grounding). When none are, keep only the three core dimensions.\n\n"
    "4. For every dimension:\n"
    "- Score Answer 1 and Answer 2 from 1 to 10\n"
    "- Justify each score briefly (2 to 5 short sentences)\n"
    "- Write it as exactly this 3-line block, with its numbering, line breaks and indentation:\n"
    "    N. Dimension name:\n"
    "        Answer 1 (x/10) - rationale;\n"
    "        Answer 2 (y/10) - rationale\n\n"
    "5. After the last dimension, add up each answer's total and show the sum, exactly like this:\n"
    "    Total score:\n"
    "    Answer 1: x+x+x=total\n"
    "    Answer 2: y+y+y=total\n\n"
    "Required output format:\n\n"
    "<think>\n"
    "1. Semantic accuracy:\n    Answer 1 (9/10) - ...;\n    Answer 2 (7/10) - ...\n"
    "2. Correctness:\n    Answer 1 (8/10) - ...;\n    Answer 2 (7/10) - ...\n"
    "3. Clarity:\n    Answer 1 (9/10) - ...;\n    Answer 2 (8/10) - ...\n"
    "[Additional dimension if any]:\n    Answer 1 (6/10) - ...;\n    Answer 2 (7/10) - ...\n"
    "[Additional dimension if any]:\n    Answer 1 (9/10) - ...;\n    Answer 2 (7/10) - ...\n"
    "Total score:\n"
    "Answer 1: 9+8+9+6+9=41\n"
    "Answer 2: 7+7+8+7+7=36\n"
    "</think>\n"
    "<answer>Answer 1 is better</answer>\n\n"
    "Note: this example only shows the exact format (numbering, line breaks, indentation and style). Follow "
    "it exactly, but base your evaluation on the given question, reference image and candidate answers.\n"
)

_V1_PAIR = Template(T, PAIR, "v1", _PAIR_TEXT, "phrase", phrases=_QWEN, logprob_prefixes={"": ""},
                    max_new_tokens=4096)
_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(0, 100),
                     logprob_prefixes={"": "Final Score: "}, max_new_tokens=4096)

TEMPLATES = [
    _V1_PAIR,
    Template(T, PAIR, "v1-llava", _LLAVA_PAIR_TEXT, "phrase", phrases=_LLAVA, max_new_tokens=4096),
    alias(_V1_PAIR, "2.0"),
    Template(T, PAIR, "think", _THINK_TEXT, "think", phrases=_QWEN, max_new_tokens=4096),
    Template(T, PAIR, "think-qwen3vl", _QWEN3VL_TEXT, "think", phrases=_QWEN, max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    alias(_V1_POINT, "2.0"),
    alias(_V1_POINT, "think"),
    alias(_V1_POINT, "think-qwen3vl"),
]
