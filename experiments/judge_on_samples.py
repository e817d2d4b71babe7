"""How well does a judge grade a policy's own samples? Pointwise agreement with the oracle, by kind of answer.

Issue 11's judge ranks the benchmark's candidates well (tau 0.96 on image understanding) yet builds poor pairs
from the small answerer's samples. This script reads the samples an `experiments/align_understanding.py` run
stored (its oracle construct store), scores every distinct sampled answer with the judge, and reports how often
the judge agrees with the oracle on "fully right or not" (the judge says fully right when its normalized expected
score is at least 0.9, so a what-is-at answer it scores 66.67 for two right attributes of three counts as not
fully right, as the oracle's grade does), split by:

- ``right``: answers the oracle grades fully right;
- ``confusable``: wrong answers made only of words the media's description contains (another object's colour,
  "nothing" for an occupied position);
- ``slip``: answers outside the question kind's answer space ("slarge", "yan", "red" for a shape);
- ``absent``: other wrong answers (they name something the media does not show);

and by question kind. The judge runs in reason-logprob mode; the answer texts, scores and reasoning are written to
``--out`` as JSON lines.

``confidence`` says whether the judge knows when it is wrong: the AUC with which its `reasoning_prob` (the
lowest probability it gave a token of its own reasoning) separates the answers it grades like the oracle from
those it does not, and, per threshold of `unireward construct --min-reasoning-prob`, the share of answers kept
and the agreement among them.

    .venv/bin/python experiments/judge_on_samples.py --run runs/au13/image_understanding-seed0 \\
        --judge assets/small-judge --questions 150 --out runs/jdiag/j8.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
from pathlib import Path


def category(kind: str, answer: str, grade: float, media: object) -> str:
    from unireward.synth.generate import ANSWERS, confusable

    if grade == 1.0:
        return "right"
    if answer not in ANSWERS[kind]:
        return "slip"
    return "confusable" if confusable(answer, media) else "absent"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True,
                    help="An align_understanding task folder (<out>/<task>-seed<s>).")
    ap.add_argument("--judge", required=True)
    ap.add_argument("--questions", type=int, default=150, help="The first N training questions.")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import unireward as ur
    from unireward.synth.generate import make_sample
    from unireward.synth.semantics import grade
    from unireward.tasks import Form

    task, seed = args.run.name.rsplit("-seed", 1)
    qdir = args.run / "questions" / task / "train"
    rows = [json.loads(line) for line in (qdir / "prompts.jsonl").read_text().splitlines()][:args.questions]
    store = sqlite3.connect(args.run / "stores" / "oracle")
    items = []
    for r in rows:
        s = make_sample(task, Form.POINT, "train", int(r["id"].split("-")[1]), seed=int(seed))
        kind, truth = s.meta["kind"], s.meta["truth"]
        answers = sorted({json.loads(d)["text"] for (d,) in
                          store.execute("select data from candidates where prompt_id = ?", (r["id"],))})
        media = str(qdir / (r.get("image") or r["video"]))
        for a in answers:
            g = grade(kind, truth, a)
            items.append({"id": r["id"], "prompt": r["prompt"], "media": media, "kind": kind, "answer": a,
                          "grade": g, "category": category(kind, a, g, s.media[0])})
    judge = ur.load_judge(args.judge, mode="reason-logprob")
    scores = judge.score_batch([{"task": task, "prompt": x["prompt"], "candidate": x["answer"], "media": x["media"]}
                                for x in items])
    agree: dict[str, collections.Counter] = {"category": collections.Counter(), "kind": collections.Counter()}
    with args.out.open("w") as f:
        for x, s in zip(items, scores):
            x.update(judge=s.normalized, text=s.text, reasoning_prob=s.reasoning_prob)
            x["agree"] = ok = ((s.normalized or 0.0) >= 0.9) == (x["grade"] == 1.0)
            for by in agree:
                agree[by][(x[by], ok)] += 1
            f.write(json.dumps(x) + "\n")
    result = {by: {k: _share(c, k) for k in sorted({k for k, _ in c})} for by, c in agree.items()}
    print(json.dumps({"judge": args.judge, "answers": len(items), **result, "confidence": confidence(items)},
                     indent=1))


def confidence(items: list[dict]) -> dict:
    """How well `reasoning_prob` tells the answers the judge grades like the oracle from the others."""
    import numpy as np

    known = [x for x in items if x.get("reasoning_prob") is not None]
    if not known:
        return {"note": "no reasoning_prob: the judge's backend reports no token probabilities"}
    p = np.array([x["reasoning_prob"] for x in known])
    ok = np.array([x["agree"] for x in known], dtype=bool)
    pos, neg = p[ok], p[~ok]
    auc = float(((pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None])).mean()) if len(pos) and len(
        neg) else None
    return {"answers": len(known), "agree": round(float(ok.mean()), 3), "auc": None if auc is None else round(auc, 3),
            "by_threshold": {f"{t:g}": {"kept": round(float((p >= t).mean()), 3),
                                        "agree": round(float(ok[p >= t].mean()), 3) if (p >= t).any() else None}
                             for t in (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)}}


def _share(c: collections.Counter, k: str) -> dict[str, float]:
    n = c[(k, True)] + c[(k, False)]
    return {"n": n, "agree": round(c[(k, True)] / n, 3)}


if __name__ == "__main__":
    main()
