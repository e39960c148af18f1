"""Peak memory of `qa index` on a large CSV against the same text as one `.txt` file (#20).

A CSV of --rows rows (five columns, made here from a fixed seed) is read by qa's sheet
reader once, here, and its document text is written to a `.txt` file: both files then
hold the same text for the indexer, so the difference is what reading the sheet costs.
Each file is indexed by `qa index` in a child process of its own, into a fresh index,
and the child's peak resident memory (wait4's ru_maxrss, which covers the extraction
child it waited for too) is taken; the two are run alternately, --repeats times each,
and the medians compared. Target: CSV peak <= 1.5x the text file's.

    .venv/bin/python benchmarks/bench_sheets.py            # 200,000 rows
    .venv/bin/python benchmarks/bench_sheets.py --quick    # 2,000 rows, a smoke test
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

from qa.ingest.formats import extract

TARGET = 1.5
CITIES = ["Lisbon", "Oslo", "Tallinn", "Vilnius", "Riga", "Porto", "Bergen", "Tartu"]
WORDS = "ownership borrow slice trait lifetime closure iterator module crate macro".split()


def make_csv(rows: int) -> bytes:
    rng = random.Random(0)
    lines = ["Order,Customer,City,Amount,Note"]
    for i in range(rows):
        note = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
        lines.append(
            f"{i + 1},customer-{rng.randint(1, 50_000)},{rng.choice(CITIES)},"
            f"{rng.randint(100, 99_999) / 100},{note}"
        )
    return ("\n".join(lines) + "\n").encode()


def index_peak(corpus: Path, index: Path) -> tuple[int, float]:
    """Peak RSS in bytes of `qa index` over `corpus`, and its wall time."""
    qa = Path(sys.executable).with_name("qa")
    env = {**os.environ, "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(qa), "index"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    errors = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        C.fail(f"qa index failed on {corpus}: {errors[-2000:]}")
    return usage.ru_maxrss * 1024, wall  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> None:
    p = C.parser("bench_sheets", __doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    rows, repeats = (2_000, 1) if args.quick else (args.rows, args.repeats)
    info = C.machine_info(torch_threads=False)
    C.print_header("bench_sheets: a large CSV against its text as .txt", info, quick=args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-sheets-") as tmp:
        root = Path(tmp)
        data = make_csv(rows)
        text = extract(data, "rows.csv").text
        files = {"csv": ("rows.csv", data), "txt": ("rows.txt", text.encode())}
        for kind, (name, content) in files.items():
            (root / kind).mkdir()
            (root / kind / name).write_bytes(content)
        peaks: dict[str, list[int]] = {k: [] for k in files}
        walls: dict[str, list[float]] = {k: [] for k in files}
        for r in range(repeats):
            for kind in files:
                peak, wall = index_peak(root / kind, root / f"index-{kind}-{r}")
                peaks[kind].append(peak)
                walls[kind].append(wall)
    med = {k: C.median(v) for k, v in peaks.items()}
    ratio = med["csv"] / med["txt"]
    table_rows: list[list[Any]] = [
        [
            files[k][0],
            C.human_bytes(len(files[k][1])),
            f"{len(text):,}",
            C.human_bytes(med[k]),
            C.fmt(C.median(walls[k]), 1),
        ]
        for k in files
    ]
    C.emit(
        C.table(
            f"qa index peak memory, {rows:,} rows, median of {repeats} ({C.cores_label(info)})",
            ["file", "bytes", "text chars", "peak RSS", "wall s"],
            table_rows,
        )
    )
    verdict = "meets" if ratio <= TARGET else "misses"
    C.emit(f"CSV / text peak memory: {ratio:.2f}x ({verdict} the target of <= {TARGET}x)")
    C.save_json(
        C.json_path(args.json, "bench_sheets"),
        {
            "benchmark": "bench_sheets",
            "quick": args.quick,
            "machine": info,
            "rows": rows,
            "peak_rss_bytes": peaks,
            "wall_s": walls,
            "ratio": ratio,
        },
    )


if __name__ == "__main__":
    main()
