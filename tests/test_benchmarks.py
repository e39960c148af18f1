"""Smoke tests: each benchmark script runs in --quick mode and prints its tables.

No timing assertions: the numbers of a --quick run on a shared machine mean
nothing. What is checked is that the scripts still run against the current core,
print their tables with the machine header, and save parseable JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# script -> (table titles and lines that must appear, JSON keys that must exist)
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "bench_index": (
        [
            "== Indexing throughput, medians of 1 interleaved rounds",
            "pipeline/raw time ratio",
            "== Matrix multiply on this machine",
            "== Encoding against the compute limit of its precision",
            "useful / peak",
        ],
        ["median_seconds", "pipeline_over_raw_time", "limit_gflops", "flops_per_token"],
    ),
    "bench_ask": (
        [
            "== Latency of one question at a time, ms",
            "ratios of medians: http/raw",
            "== Throughput of POST /ask, one qa serve worker",
        ],
        ["p50_ms", "ratios", "levels"],
    ),
    "bench_collections": (
        [
            "== POST /ask, 8 clients, medians of 1 rounds of 2 s",
            "three/one: p50 x",
            "== Resident memory of each server",
            "each extra collection, after load",
            "in process, one more collection:",
        ],
        ["servers", "ratios", "memory", "in_process_per_collection"],
    ),
    "bench_extract": (
        [
            "== Extraction, medians",
            "qa/bare",
            "== Extraction's share of qa index on the realdocs corpus",
            "== Page image with a highlight, through the reader child",
            "== qa index of one generated PDF, fresh process",
            "== OCR of scanned pages (realdocs at 150 dpi)",
            "== OCR's share of qa index of the scans",
        ],
        ["extraction", "index_share", "render_ms", "big_pdf", "ocr"],
    ),
    "bench_models": (
        [
            "== QAService.ask(k=5) with the optional models, ms; random weights of the real",
            "ratios of p50s: reranker/none",
        ],
        ["p50_ms", "ratios", "shapes"],
    ),
    "bench_scale": (
        [
            "== FAISS, k=10, d=384, one query at a time",
            "recall@10",
            "Recommendation (recall@10 >= 0.95)",
        ],
        ["rows", "recommendation"],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_benchmark_runs_quick_and_prints_its_tables(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.json"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--quick", "--json", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "cores:   os.cpu_count()=" in text  # the machine header
    assert "cpu:     " in text
    lines, keys = EXPECTED[name]
    for line in lines:
        assert line in text, f"{line!r} missing from the output of {name}:\n{text}"
    titles = [line for line in text.splitlines() if line.startswith("== ")]
    assert titles and all("cores" in title for title in titles), titles
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["benchmark"] == name and data["quick"] is True
    assert data["machine"]["usable_cores"] >= 1
    for key in keys:
        assert key in data, f"{key!r} missing from {name}'s JSON"
    if name == "bench_models":  # every configuration was timed on every question
        assert set(data["p50_ms"]) == {"none", "reranker", "reader", "both"}
        assert len({len(v) for v in data["seconds"].values()}) == 1
    if name == "bench_collections":  # every request on every server succeeded
        assert set(data["servers"]) == {"one", "three"}
        assert all(s["errors"] == [] and s["ok"] >= 1 for s in data["servers"].values())
    if name == "bench_ask":  # the load loops stop by themselves, and every request succeeds
        levels = data["levels"]
        assert [level["clients"] for level in levels] == [1, 8, 32]
        for level in levels:
            assert level["errors"] == [] and level["ok"] >= 1
            assert level["sent"] <= 4  # --quick bounds each level to 4 requests


def test_bench_peers_without_txtai_says_how_to_get_it() -> None:
    """txtai lives in its own venv (`make bench-peers`); elsewhere the script says so."""
    try:
        import txtai  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("txtai is installed here: `make bench-peers` runs the real comparison")
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_peers.py"), "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "make bench-peers" in proc.stderr and "Traceback" not in proc.stderr
