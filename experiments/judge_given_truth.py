"""Where does a small judge fail: reading the pixels, or reasoning from what it read? Judge the test records with
the judge's own description replaced by the true one.

    .venv/bin/python experiments/judge_given_truth.py --judge assets/small-judge --records runs/x/synth/test --n 50

The judge runs in reason-logprob mode, but every description line of its answer (``... shows: ...``) is the true
one, from the record's target answer (`data.export.target_answer`); every other line (the correct answer, the
check lines, the verdict or score) the judge writes itself, greedily, one line at a time after the true lines
before it. The verdict's or score's options are then read by the model where the answer starts, as in normal use.
If the judge is at chance here, its reasoning (description -> verdict) is the bottleneck, not its vision. Prints
per task the `evaluate_judge` metrics (pairwise accuracy with ties, Spearman of pointwise scores).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from dataclasses import replace
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--judge", required=True, help="A judge folder or preset.")
    ap.add_argument("--records", required=True, help="A split folder holding records.jsonl (with rationales).")
    ap.add_argument("--n", type=int, default=50, help="Records per task and form.")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import unireward as ur
    from unireward.data.export import target_answer
    from unireward.train.evaluate import evaluate_judge, select_records

    folder = Path(args.records)
    judge = ur.load_judge(args.judge, mode="reason-logprob")
    queue: list[str] = []
    generate = judge._generate

    def given_truth(requests, max_new_tokens):
        """Each answer line by line: true description lines, the judge's own lines otherwise."""
        lines = [queue.pop(0).split("\n") for _ in requests]
        written, at = [""] * len(requests), [0] * len(requests)
        while True:
            for i, ls in enumerate(lines):
                while at[i] < len(ls) and " shows: " in ls[at[i]]:
                    written[i] += ls[at[i]] + "\n"
                    at[i] += 1
            todo = [i for i, ls in enumerate(lines) if at[i] < len(ls)]
            if not todo:
                return [w.rstrip("\n") for w in written]
            said = generate([replace(requests[i], answer_start=written[i]) for i in todo], 96)
            for i, text in zip(todo, said):
                text = "" if isinstance(text, Exception) else text
                written[i] += text[:text.index("\n") + 1] if "\n" in text else text
                at[i] = at[i] + 1 if "\n" in text else len(lines[i])  # no newline: the answer ended

    judge._generate = given_truth
    groups = defaultdict(list)
    for r in select_records(folder / "records.jsonl", args.n):
        groups[(r.task, r.form)].append(r)
    out = {}
    for (task, form), recs in groups.items():
        queue.extend(target_answer(r, judge.template(task, form)) for r in recs)
        out[f"{task.value}/{form.value}"] = evaluate_judge(judge, recs, folder)["tasks"][task.value]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
