"""The SQLite store and the prompts reader."""

from __future__ import annotations

import json

import pytest

from unireward.construct.items import Candidate, read_prompts
from unireward.construct.store import Store
from unireward.tasks import Score, Verdict


META = {"judge_key": "k", "judge": "j", "family": "v1", "task": "image_generation", "form": "pair",
        "prompt_hash": "p", "media_hash": "", "a_hash": "a", "b_hash": "b"}


def test_judgments_round_trip_and_only_answers_are_cached(tmp_path):
    v = Verdict("A", prob_a=0.8, text="Image 1 is better.", probs={"A": 0.8, "B": 0.1, "tie": 0.1},
                swapped=Verdict("B", text="Image 2 is better."))
    s = Score(7.5, scale=(1.0, 10.0), dims={"x": 2.0}, normalized=0.72, text="Final Score: 7.5")
    unparsed = Verdict(None, text="gibberish", error="no verdict")
    failed = Verdict(None, error="MediaError: a.png: file not found")
    with Store(tmp_path / "s.sqlite") as st:
        stored = st.put_judgments([("v", META, v), ("s", {**META, "form": "point"}, s), ("u", META, unparsed),
                                   ("f", META, failed)])
        assert stored == 3  # the failure is retried next time, not cached
    with Store(tmp_path / "s.sqlite") as st:
        got = st.get_judgments(["v", "s", "u", "f", "nope"])
    assert got == {"v": v, "s": s, "u": unparsed}
    assert isinstance(got["s"].scale, tuple)


def test_candidates_are_stored_relative_to_the_store(tmp_path):
    media = tmp_path / "run" / "media"
    media.mkdir(parents=True)
    (media / "0.png").write_bytes(b"x")
    cands = [Candidate(0, path=str(media / "0.png"), hash="h0", seed=5), Candidate(1, text="an answer", hash="h1")]
    with Store(tmp_path / "run" / "construct.sqlite") as st:
        st.put_candidates("g", "p1", cands)
        assert st.candidates("g", "p2") is None
    (tmp_path / "run").rename(tmp_path / "moved")  # the folder travels with its store
    with Store(tmp_path / "moved" / "construct.sqlite") as st:
        back = st.candidates("g", "p1")
    assert back[0].path == str((tmp_path / "moved" / "media" / "0.png").resolve()) and back[1].text == "an answer"


def test_outcomes_failures_and_runs(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        st.put_failure("r", "p1", "generate", "boom")
        st.put_outcome("r", "p2", "kept", {"id": "p2"})
        st.put_outcome("r", "p1", "dropped", {"id": "p1"})  # a later success clears the failure
        assert list(st.outcomes("r")) == ["p2", "p1"] and st.failures("r") == {}
        st.put_outcome("r", "p2", "kept", {"id": "p2"})  # idempotent: still one row
        assert len(st.outcomes("r")) == 2 and st.outcomes("other") == {}
        st.put_run("r", {"n": 10})
        assert st.run_config("r") == {"n": 10}
        st.clear_outcomes("r")
        assert st.outcomes("r") == {}


def test_read_prompts_ids_errors_and_media(tmp_path):
    (tmp_path / "a.png").write_bytes(b"png")
    lines = [{"prompt": "q1", "image": "a.png"}, {"id": 7, "question": "q2", "media": [{"image": "a.png"}]},
             {"prompt": "q1", "image": "a.png"}, {"prompt": "q3"}, {"prompt": "q4", "image": "gone.png"},
             {"id": 7, "prompt": "q5", "image": "a.png"}]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n[1, 2]\n")
    items, errors = read_prompts(path, "image_understanding")
    assert [it.prompt for it in items] == ["q1", "q2", "q1"] and items[1].id == "7"
    assert items[2].id == items[0].id + "#2" and items[0].media == str((tmp_path / "a.png").resolve())
    assert [e.split(":")[0] for e in errors] == ["p.jsonl line 4", "p.jsonl line 5", "p.jsonl line 6",
                                                "p.jsonl line 7"]
    assert "needs the shared image" in errors[0] and "gone.png" in errors[1] and "duplicate id" in errors[2]
    # ids come from content, not line numbers: inserting a line keeps every other prompt's id
    path.write_text(json.dumps({"prompt": "new", "image": "a.png"}) + "\n" + path.read_text())
    again, _ = read_prompts(path, "image_understanding")
    assert {it.id for it in items} <= {it.id for it in again}
    txt = tmp_path / "c.txt"
    txt.write_text("a red fox\n\na blue car\n")
    assert [it.prompt for it in read_prompts(txt, "image_generation")[0]] == ["a red fox", "a blue car"]
    with pytest.raises(FileNotFoundError, match="prompts file not found"):
        read_prompts(tmp_path / "none.jsonl", "image_generation")
