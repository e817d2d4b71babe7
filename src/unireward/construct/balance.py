"""Answer-balanced pair sets: the same two answers preferred as often one way as the other.

Why: DPO pulls a policy toward whatever a pair set prefers *as a set*. When a question kind has a few short
answers ("slowly" / "quickly", "yes" / "no") and the model cannot read the evidence that decides them, the pairs
still prefer one answer more often than the other (on-policy sampling makes the model's own default the usual
loser), and DPO's optimum moves the policy's log-ratio between the two answers by log(n_ab / n_ba) / beta
whatever the image or clip shows: at beta 0.1, 199 against 146 pairs is a shift of 3.1 nats. With the two
directions equally often in the set, that optimum is the reference model's own preference, so only what the
pairs teach per question moves it. Measured twice (docs/align.md, video, seed 0): it did not stop the small
answerer losing speed questions, and cost 4 points on the judge's pairs and 7.7 on the oracle's, so it is an
option to measure, not a recommendation.

Design choices a user will notice:
- Answers are compared after stripping, lower-casing and dropping a final full stop, as one text.
- Only answer pairs seen *both* ways are balanced: the larger direction is subsampled (seeded) to the size of
  the smaller. A pair of answers preferred one way only (one answer is malformed, or free-form answers that
  never repeat) is kept whole, so the filter does nothing to long free-form answers.
- It is a trade: a prior that is wrong and should move (the model says "yes" too often) moves less too. It is
  off by default everywhere; `experiments/align_understanding.py --balance-answers` measures it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any


def answer_text(message: Any) -> str:
    """The normalised text of a TRL conversational answer (a message list) or a plain string."""
    if isinstance(message, list):
        content = message[0]["content"]
        message = content if isinstance(content, str) else " ".join(c.get("text", "") for c in content)
    return str(message).strip().lower().removesuffix(".").strip()


def balance_answers(rows: list[dict[str, Any]], seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(kept, dropped) rows of a preference set so that every two answers seen preferred both ways are preferred
    each way equally often; rows keep their order."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        try:
            groups[(answer_text(row["chosen"]), answer_text(row["rejected"]))].append(i)
        except (KeyError, IndexError, TypeError, AttributeError) as e:
            raise ValueError(f"balance_answers: row {row.get('id', i) if isinstance(row, dict) else i} has no "
                             f"readable chosen/rejected answer ({type(e).__name__}: {e})") from e
    rng = random.Random(seed)
    drop: set[int] = set()
    for (a, b), ab in sorted(groups.items()):
        ba = groups.get((b, a), [])
        if ba and len(ab) > len(ba):
            drop.update(rng.sample(ab, len(ab) - len(ba)))
    return [r for i, r in enumerate(rows) if i not in drop], [r for i, r in enumerate(rows) if i in drop]
