"""The conversion runner, the registry, the streaming readers, and `unireward data convert`."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from data_fixtures import HF_IMAGE, corrupt_row_group, hf_image, image_bytes, write_json, write_oip, write_parquet
from typer.testing import CliRunner

from unireward.data.cli import app
from unireward.data.convert import convert
from unireward.data.sources import common, get_adapter, list_sources
from unireward.data.sources.common import MissingMediaError, RowError, SourceError, as_row_error, iter_json_list
from unireward.media import MediaError
from unireward.records import read_records


def test_registry_lists_sources_and_rejects_unknown_names():
    assert set(list_sources()) == {"hpd", "hpdv2", "evalmuse", "oip", "pickapic", "llava_critic", "videodpo",
                                   "lift_hra", "videofeedback", "sharegptvideo"}
    with pytest.raises(ValueError, match="unknown source 'hps'; valid: hpd, hpdv2, evalmuse"):
        get_adapter("hps")


def test_limit_counts_source_rows(source_inputs, tmp_path):
    s = convert("hpd", source_inputs["hpd"], tmp_path / "hpd", limit=2, progress=False)
    assert (s["rows_read"], s["records_written"], s["rows_skipped"]) == (2, 2, 0)
    s = convert("sharegptvideo", source_inputs["sharegptvideo"], tmp_path / "sgv", limit=1, progress=False)
    assert (s["rows_read"], s["records_written"]) == (1, 3)  # one line gives a pair and two scores


def test_rerun_reuses_media_and_rewrites_the_same_records(source_inputs, tmp_path):
    first = convert("oip", source_inputs["oip"], tmp_path / "oip", progress=False)
    before = (tmp_path / "oip" / "records.jsonl").read_text()
    second = convert("oip", source_inputs["oip"], tmp_path / "oip", progress=False)
    assert first["media_files_written"] == 9 and second["media_files_written"] == 0
    assert (tmp_path / "oip" / "records.jsonl").read_text() == before
    assert json.loads((tmp_path / "oip" / "summary.json").read_text())["records_written"] == 4


def test_identical_images_are_stored_once(tmp_path):
    same = image_bytes(1)
    schema = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("chosen", HF_IMAGE), ("rejected", HF_IMAGE)])
    rows = [{"id": str(i), "prompt": "p", "chosen": hf_image(same), "rejected": hf_image(image_bytes(10 + i))}
            for i in range(3)]
    write_parquet(tmp_path / "in" / "train.parquet", rows, schema)
    s = convert("oip", tmp_path / "in", tmp_path / "out", progress=False)
    assert s["records_written"] == 3 and s["media_files_written"] == 4


def test_missing_column_stops_with_the_file_named(tmp_path):
    schema = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("chosen", HF_IMAGE)])
    path = write_parquet(tmp_path / "in" / "train.parquet", [{"id": "1", "prompt": "p", "chosen": None}], schema)
    with pytest.raises(SourceError, match=r"train\.parquet: missing column\(s\) \['rejected'\]"):
        convert("oip", path, tmp_path / "out", progress=False)


def test_llava_critic_needs_the_pairwise_or_pointwise_folder(source_inputs, tmp_path):
    src = source_inputs["llava_critic"] / "pairwise" / "train-00000-of-00001.parquet"
    flat = tmp_path / "train.parquet"
    flat.write_bytes(src.read_bytes())
    with pytest.raises(SourceError, match="cannot tell pairwise from pointwise"):
        convert("llava_critic", flat, tmp_path / "out", progress=False)
    s = convert("llava_critic", src, tmp_path / "out", progress=False)  # one file of the HF layout
    assert s["records_by_task_form"] == {"image_understanding/pair": 3}


@pytest.mark.parametrize("chunk", [3, 7, 64, 1 << 20])
def test_json_list_streams_across_chunk_boundaries(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(common, "_CHUNK", chunk)
    items = [{"a": "x]y,\"z", "n": [1, 2.5, None]}, 12345678, "tail [string]", [], {"nested": {"k": [{}]}}, 0.25]
    path = tmp_path / "list.json"
    path.write_text(" \n[ " + " ,\n ".join(json.dumps(i) for i in items) + "\n]\n")
    assert list(iter_json_list(path)) == items


def test_json_list_errors_name_the_item(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"a": 1}, {"b": }, {"c": 3}]')
    it = iter_json_list(bad)
    assert next(it) == {"a": 1}
    with pytest.raises(SourceError, match=r"bad\.json: invalid JSON in item 1"):
        next(it)
    obj = write_json(tmp_path / "obj.json", {"data": []})
    with pytest.raises(SourceError, match="expected a JSON list"):
        list(iter_json_list(obj))


def test_cli_convert_prints_the_summary_with_skipped_rows(source_inputs, tmp_path):
    out = tmp_path / "pickapic"
    result = CliRunner().invoke(app, ["convert", "pickapic", "--input", str(source_inputs["pickapic"]),
                                      "--output", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["records_written"], summary["rows_skipped"]) == (6, 3, 3)
    assert [e["row"] for e in summary["skipped"]] == [3, 4, 5]
    assert summary["skipped_by_kind"] == {"invalid value": 1, "unlabelled": 1, "unreadable media": 1}
    assert len(list(read_records(out / "records.jsonl"))) == 3


def test_cli_convert_reports_bad_input(tmp_path):
    result = CliRunner().invoke(app, ["convert", "oip", "--input", str(tmp_path / "nope"), "--output",
                                      str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2 and "no such file or folder" in result.stderr
    result = CliRunner().invoke(app, ["convert", "nosuch", "--input", str(tmp_path), "--output", str(tmp_path)])
    assert result.exit_code == 2 and "unknown source 'nosuch'; valid: hpd," in result.stderr


@pytest.mark.parametrize("name", sorted(list_sources()))
def test_a_missing_input_is_a_source_error(name, tmp_path):
    with pytest.raises(SourceError, match="nowhere"):
        convert(name, tmp_path / "nowhere", tmp_path / "out", progress=False)


def test_a_failed_conversion_leaves_the_previous_output_whole(source_inputs, tmp_path):
    out = tmp_path / "oip"
    convert("oip", source_inputs["oip"], out, progress=False)
    before = {name: (out / name).read_text() for name in ("records.jsonl", "skipped.jsonl", "summary.json")}
    with pytest.raises(SourceError, match="nowhere: no such file or folder"):
        convert("oip", tmp_path / "nowhere", out, progress=False)
    assert {name: (out / name).read_text() for name in before} == before
    src = write_oip(tmp_path / "in")  # two shards; the second is cut short, as an interrupted download
    shard = src / "data" / "train-00001-of-00002.parquet"
    shard.write_bytes(shard.read_bytes()[:200])
    with pytest.raises(SourceError, match=r"train-00001-of-00002\.parquet: not a readable parquet file"):
        convert("oip", src, out, progress=False)
    assert {name: (out / name).read_text() for name in before} == before
    assert sorted(p.name for p in out.iterdir()) == ["media", "records.jsonl", "skipped.jsonl", "summary.json"]


def test_a_corrupt_parquet_page_skips_its_row_group_and_names_it(tmp_path):
    src = write_oip(tmp_path / "in")
    corrupt_row_group(src / "data" / "train-00000-of-00002.parquet", 0)  # rows 0-2 of the first shard
    s = convert("oip", src, tmp_path / "out", progress=False)
    assert (s["rows_read"], s["records_written"], s["skipped_by_kind"]) == (5, 1, {"unreadable row": 3,
                                                                                   "missing field": 1})
    lines = (tmp_path / "out" / "skipped.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["where"] == "data/train-00000-of-00002.parquet row 0"
    assert first["reason"].startswith("unreadable parquet data in row group 0 (rows 0-2): ")
    assert [json.loads(line)["where"] for line in lines[1:3]] == ["data/train-00000-of-00002.parquet row 1",
                                                                  "data/train-00000-of-00002.parquet row 2"]
    assert [r.id for r in read_records(tmp_path / "out" / "records.jsonl")] == ["oip/3371-quality"]


def test_a_parquet_file_that_is_not_one_is_named(tmp_path):
    bad = tmp_path / "in" / "train.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(SourceError, match=r"in/train\.parquet: not a readable parquet file \(.*magic bytes"):
        convert("oip", bad.parent, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "records.jsonl").exists()


def test_non_utf8_json_is_named(tmp_path):
    bad = tmp_path / "train.json"
    bad.write_bytes(b'[{"prompt": "caf\xe9"}]')
    with pytest.raises(SourceError, match=r"train\.json: not UTF-8 text"):
        convert("hpdv2", bad, tmp_path / "out", progress=False)


def test_bad_rows_of_any_source_are_named_and_the_rest_converts(source_inputs, tmp_path):
    sgv = tmp_path / "sgv.jsonl"
    good = source_inputs["sharegptvideo"].read_bytes().splitlines()[0]
    sgv.write_bytes(b'{"id": "caf\xe9"}\n' + good + b"\n")
    (tmp_path / "train_300k").symlink_to(source_inputs["sharegptvideo"].parents[3] / "train_300k")
    s = convert("sharegptvideo", sgv, tmp_path / "out1", progress=False)
    assert s["records_written"] == 3 and s["skipped"][0]["where"] == "sgv.jsonl line 1"
    assert s["skipped"][0]["reason"].startswith("not UTF-8 text")
    lift = write_json(tmp_path / "lift" / "data.json", [{"video": "v.mp4", "conversations": 5}])
    s = convert("lift_hra", lift, tmp_path / "out2", progress=False)
    assert s["skipped"] == [{"row": 0, "where": "data.json item 0", "kind": "invalid value",
                             "reason": "field 'conversations' must be a list, got int"}]


def test_row_errors_share_one_shape():
    missing = MissingMediaError("image a.jpg not found", "/data/a.jpg", "x.parquet row 3")
    assert isinstance(missing, RowError) and isinstance(missing, FileNotFoundError)
    assert (str(missing), missing.kind, missing.path) == ("x.parquet row 3: image a.jpg not found", "missing media",
                                                          "/data/a.jpg")
    unreadable = as_row_error(MediaError("jpg_1: cannot open image"), "x.parquet row 4")
    assert (str(unreadable), unreadable.kind) == ("x.parquet row 4: jpg_1: cannot open image", "unreadable media")
    odd = as_row_error(TypeError("'int' object is not iterable"), "x.json item 2")
    assert (odd.kind, odd.reason) == ("invalid row", "unexpected value (TypeError: 'int' object is not iterable)")
    assert as_row_error(SourceError("x.parquet: not a readable parquet file"), "x.parquet row 0") is None
