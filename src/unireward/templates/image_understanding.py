"""Image understanding: an image, a question, and one or two answers (texts).

Pairwise v1 answers "Answer 1 is better" / "Answer 2 is better" (the prompt offers no tie); pointwise is
LLaVA-Critic style on 0-100 after ``Final Score:``. The 2.0 family reuses v1 (2.0 added generation
formats only); think answers inside ``<answer>``.
"""

from unireward.tasks import Form, Task
from unireward.templates.base import Template, alias


T, PAIR, POINT = Task.IMAGE_UNDERSTANDING, Form.PAIR, Form.POINT

_FACTORS = (
    "1. Accuracy of object descriptions: objects must really be in the image; penalise invented ones.\n"
    "2. Accuracy of the relationships between objects.\n"
    "3. Accuracy of the attributes of objects.\n"
    "4. Helpfulness: the response follows the instruction and gives useful insight.\n"
    "5. Ethics: appropriate care with sensitive content, privacy, fairness and possible harm.\n"
)

_PAIR_TEXT = (
    "You are given an image and a question about it. Evaluate the two answers on these five factors:\n"
    + _FACTORS
    + "Weigh all five factors and state your decision clearly, e.g. '{a}' or '{b}'.\n"
    "Question: {{prompt}}\nAnswer 1: {{answer_a}}\nAnswer 2: {{answer_b}}"
)

_POINT_TEXT = (
    "You are given an image, a question about it, and a response. Review the response on these five "
    "factors:\n" + _FACTORS + "From {lo} to {hi}, how would you rate the response for a correct and "
    "comprehensive description of the image? Do not let one factor dominate the rating. Give a few lines of "
    "explanation and put the rating last, after 'Final Score:'.\n"
    "Question: [{prompt}]\nResponse: [{answer}]"
)

_THINK_TEXT = (
    "You are given an image, a question about it, and two answers (Answer 1 and Answer 2). Check each answer "
    "against the image for accuracy, completeness and helpfulness, reasoning step by step inside "
    "<think> </think>. Then give your decision inside <answer> </answer> as exactly 'Answer 1 is better' or "
    "'Answer 2 is better'.\nQuestion: {prompt}\nAnswer 1: {answer_a}\nAnswer 2: {answer_b}"
)

_QWEN = {"A": "Answer 1 is better", "B": "Answer 2 is better"}
_LLAVA = {"A": "Answer 1 is better than Answer 2", "B": "Answer 2 is better than Answer 1"}

_V1_PAIR = Template(T, PAIR, "v1", _PAIR_TEXT.format(a=_QWEN["A"], b=_QWEN["B"]), "phrase", phrases=_QWEN,
                    logprob_prefixes={"": ""}, max_new_tokens=4096)
_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(0, 100),
                     logprob_prefixes={"": "Final Score: "}, max_new_tokens=4096)

TEMPLATES = [
    _V1_PAIR,
    Template(T, PAIR, "v1-llava", _PAIR_TEXT.format(a=_LLAVA["A"], b=_LLAVA["B"]), "phrase", phrases=_LLAVA,
             logprob_prefixes={"": ""}, max_new_tokens=4096),
    alias(_V1_PAIR, "2.0"),
    Template(T, PAIR, "think", _THINK_TEXT, "think", phrases=_QWEN, max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    alias(_V1_POINT, "2.0"),
    alias(_V1_POINT, "think"),
]
