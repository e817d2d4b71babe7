"""Video understanding: a video (as frames), a question, and one or two answers (texts).

Pairwise v1 explains per criterion and ends with "Overall Judgment: Answer 1 is better than Answer 2."
(ties forbidden; the verdict is read after the last "Overall Judgment"). Pointwise is Critic-style on 1-5
after ``Final Score:``. 2.0 reuses v1; think answers inside ``<answer>``.
"""

from unireward.tasks import Form, Task
from unireward.templates.base import Template, alias


T, PAIR, POINT = Task.VIDEO_UNDERSTANDING, Form.PAIR, Form.POINT

_PAIR_TEXT = (
    "Please analyse the following video and question, then decide which of the two answers is better.\n"
    "Question: {{prompt}}\nAnswer 1: {{answer_a}}\nAnswer 2: {{answer_b}}\n"
    "Judge the answers on:\n"
    "1. Accuracy: consistent with what the video shows.\n"
    "2. Completeness: covers every part of the question.\n"
    "3. Clarity: easy to follow.\n"
    "4. Relevance: stays on the question.\n"
    "Explain your reasoning for each criterion, then end with '{final}'. You must pick one answer; do not "
    "say that both are equally good."
)

_POINT_TEXT = (
    "You are given a video, a question about it, and a response. Review the response on five factors:\n"
    "1. Accuracy of the objects and events described: they must really appear in the video.\n"
    "2. Accuracy of the relationships and the order of events.\n"
    "3. Accuracy of attributes and motion.\n"
    "4. Helpfulness: the response follows the instruction and is useful.\n"
    "5. Ethics: appropriate care with sensitive content.\n"
    "Assign a score from {lo} to {hi} based on these five factors after 'Final Score:'.\n"
    "Question: [{prompt}]\nResponse: [{answer}]"
)

_THINK_TEXT = (
    "You are given the frames of a video, a question about it, and two answers (Answer 1 and Answer 2). "
    "Check each answer against the video for accuracy, completeness and relevance, reasoning step by step "
    "inside <think> </think>. Then give your decision inside <answer> </answer> as exactly "
    "'Answer 1 is better' or 'Answer 2 is better'.\nQuestion: {prompt}\nAnswer 1: {answer_a}\nAnswer 2: {answer_b}"
)

_QWEN = {"A": "Answer 1 is better than Answer 2", "B": "Answer 2 is better than Answer 1"}
_LLAVA = {"A": "Response 1 is better than Response 2", "B": "Response 2 is better than Response 1"}

_V1_PAIR = Template(T, PAIR, "v1", _PAIR_TEXT.format(final="Overall Judgment: Answer X is better."), "phrase",
                    phrases=_QWEN, marker="Overall Judgment", logprob_prefixes={"": "Overall Judgment: "},
                    max_new_tokens=1024)
_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(1, 5),
                     logprob_prefixes={"": "Final Score: "}, max_new_tokens=1024)

TEMPLATES = [
    _V1_PAIR,
    Template(T, PAIR, "v1-llava", _PAIR_TEXT.format(final="Response X is better than Response Y."), "phrase",
             phrases=_LLAVA, logprob_prefixes={"": ""}, max_new_tokens=1024),
    alias(_V1_PAIR, "2.0"),
    Template(T, PAIR, "think", _THINK_TEXT, "think",
             phrases={"A": "Answer 1 is better", "B": "Answer 2 is better"}, max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    alias(_V1_POINT, "2.0"),
    alias(_V1_POINT, "think"),
]
