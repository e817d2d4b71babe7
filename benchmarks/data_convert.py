"""Conversion throughput and memory: a generated OIP-layout parquet source, converted at two sizes.

    python benchmarks/data_convert.py [--rows 20000] [--small 2000] [--workdir DIR]

Writes a parquet source in OIP's layout (``id``, ``prompt``, ``chosen``/``rejected`` as HF image structs
with small distinct JPEGs, row groups of 500 rows as HF writes image datasets), then converts the first
`--small` rows and all `--rows` rows, each in a fresh subprocess, and prints JSON: rows per second and the
subprocess's peak resident memory for both. Streaming means the two peaks should be about equal.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_source(path: Path, rows: int, row_group: int = 500) -> float:
    """Write the parquet file in row groups (never holding the whole table); returns its size in MB."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("chosen", image), ("rejected", image),
                        ("chosen_model", pa.string()), ("rejected_model", pa.string()), ("evolution", pa.string()),
                        ("category", pa.string()), ("sub_category", pa.string())])
    rng = np.random.default_rng(0)

    def jpeg() -> dict:
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
        return {"bytes": buf.getvalue(), "path": None}

    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, row_group):
            stop = min(rows, start + row_group)
            batch = [{"id": f"{i}-quality", "prompt": f"a generated prompt number {i} " + "word " * 20,
                      "chosen": jpeg(), "rejected": jpeg(), "chosen_model": "black-forest-labs/FLUX.1-dev",
                      "rejected_model": "stabilityai/stable-diffusion-3.5-large", "evolution": "quality",
                      "category": "Manga", "sub_category": "detailed"} for i in range(start, stop)]
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return round(path.stat().st_size / 2**20, 1)


def child(src: str, out: str, limit: int) -> None:
    """Run one conversion and print its timing and this process's peak RSS."""
    from unireward.data.convert import convert

    start = time.perf_counter()
    summary = convert("oip", src, out, limit=limit, progress=False)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"rows": summary["rows_read"], "records": summary["records_written"],
                      "skipped": summary["rows_skipped"], "seconds": round(seconds, 2),
                      "rows_per_second": round(summary["rows_read"] / seconds, 1),
                      "peak_rss_mb": round(peak_kb / 1024, 1)}))


def run(src: Path, out: Path, limit: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run([sys.executable, __file__, "--child", str(src), str(out), str(limit)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--small", type=int, default=2_000)
    ap.add_argument("--workdir", type=Path, default=None, help="Keep files here (default: a temporary folder).")
    ap.add_argument("--child", nargs=3, metavar=("SRC", "OUT", "LIMIT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="unireward-bench-"))
    try:
        src = work / "oip" / "data" / "train-00000-of-00001.parquet"
        t = time.perf_counter()
        size_mb = make_source(src, args.rows)
        made = round(time.perf_counter() - t, 1)
        small = run(src, work / "out-small", args.small)
        large = run(src, work / "out-large", args.rows)
        print(json.dumps({"source": {"layout": "oip parquet, 2 embedded 32x32 JPEGs per row", "rows": args.rows,
                                     "size_mb": size_mb, "generated_in_s": made},
                          "small": small, "large": large,
                          "peak_rss_growth_mb": round(large["peak_rss_mb"] - small["peak_rss_mb"], 1)}, indent=2))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
