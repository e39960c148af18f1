"""FAISS at scale: query latency, recall@10 against exact search, memory and build time
of flat, IVF-Flat, HNSW and IVF-PQ (with and without re-ranking) at 10k, 100k and 1M
vectors of dimension 384.

Data: synthetic vectors made to behave like sentence embeddings, seeded: a mixture
of 1,000 topics (random unit centres, sizes drawn log-normally), each a gaussian
blob of intrinsic dimension 32 with a decaying spectrum, plus isotropic noise,
normalised to unit length; inner product = cosine. The script prints the mean
cosine of a query to its 1st and 10th neighbour (about 0.7-0.8 and 0.6-0.75, as
for MiniLM over a large passage collection) so the difficulty is visible.
Queries are fresh draws from the same mixture: near the data, never in it.
(Pure uniform random vectors would make every approximate index look useless.)

Index settings (inner product, k = 10):
  flat        IndexFlatIP: exact, the ground truth; latency with FAISS's threads and
              with one thread (one query's scan is split across threads)
  ivf-flat    IndexIVFFlat, nlist = 4*sqrt(N), spherical k-means trained on
              min(N, 40*nlist) vectors; nprobe 8, 16, 32
  hnsw        IndexHNSWFlat, M = 32, efConstruction = 200; efSearch 64, 128
  ivf-pq      IndexIVFPQ on the same coarse centroids, m = 48 codes of 8 bits
              (8 dimensions each, 48 bytes a vector); nprobe 16, 32
  ivf-pq+rr   the same, re-ranked: IndexRefineFlat takes 4*k candidates and
              re-scores them against the full vectors (which it keeps in memory)

Latency: p50/p95 of one query at a time. Recall@10: |approximate top 10 ∩ exact
top 10| / 10, averaged over queries. Memory: bytes of the index as FAISS writes
it (faiss.write_index), and the growth of this process's resident memory (RSS)
while building it, at the end and at its peak. HNSW at 1M is only built if the
build time extrapolated from 100k fits the budget (--hnsw-budget); otherwise its
numbers are extrapolated and say so.

Run:  .venv/bin/python benchmarks/bench_scale.py [--quick] [--sizes 10000,100000]
                                                 [--hnsw-budget S] [--json [FILE]]
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as C
import faiss
import faiss.contrib.ivf_tools  # add_preassigned
import numpy as np

DIM = 384
K = 10
RECALL_TARGET = 0.95
# Exact search is preferred while it costs at most this: a fifth of encoding one question
# (about 10 ms on a quiet 2-core machine, bench_ask's raw path).
FLAT_IS_CHEAP_MS = 2.0


# ----- data --------------------------------------------------------------------------------


@dataclass
class Mixture:
    """Topics on the unit sphere, each a gaussian blob of low intrinsic dimension (its own
    random basis, with a decaying spectrum as real embeddings have), plus a little
    isotropic noise; every draw is normalised."""

    centres: np.ndarray  # (T, d) unit vectors
    weights: np.ndarray  # (T,) topic probabilities
    bases: np.ndarray  # (T, rank, d): the directions a topic's points spread along
    noise: float  # per-dimension standard deviation of the isotropic part

    @classmethod
    def make(
        cls,
        rng: np.random.Generator,
        *,
        topics: int,
        rank: int = 32,
        spread: float = 1.2,
        noise: float = 0.15,
    ) -> Mixture:
        centres = _unit(rng.standard_normal((topics, DIM), dtype=np.float32))
        weights = rng.lognormal(0.0, 1.0, topics)
        # Spectrum 1/sqrt(j), scaled so a point's expected squared distance from its topic
        # centre is `spread` (before normalising); the noise adds `noise` more.
        scales = np.arange(1, rank + 1, dtype=np.float64) ** -0.5
        scales *= math.sqrt(spread / float(np.sum(scales**2)))
        bases = rng.standard_normal((topics, rank, DIM), dtype=np.float32) / math.sqrt(DIM)
        bases *= scales.astype(np.float32)[None, :, None]
        return cls(centres, weights / weights.sum(), bases, math.sqrt(noise / DIM))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n points grouped by topic (row order carries no meaning for the indexes)."""
        counts = rng.multinomial(n, self.weights)
        out = np.empty((n, DIM), dtype=np.float32)
        at = 0
        for topic in np.flatnonzero(counts):
            c = int(counts[topic])
            z = rng.standard_normal((c, self.bases.shape[1]), dtype=np.float32)
            block = z @ self.bases[topic]
            block += self.centres[topic]
            block += self.noise * rng.standard_normal((c, DIM), dtype=np.float32)
            out[at : at + c] = _unit(block)
            at += c
        return out


def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


# ----- measuring ---------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence FAISS's C++ warnings (e.g. few training points at small N)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def index_bytes(index: faiss.Index) -> int:
    with tempfile.TemporaryDirectory(prefix="qa-bench-scale-") as tmp:
        path = Path(tmp) / "index.faiss"
        faiss.write_index(index, str(path))
        return path.stat().st_size


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / (len(truth) * truth.shape[1])


def single_query_ms(index: faiss.Index, queries: np.ndarray) -> list[float]:
    index.search(queries[:1], K)  # warm-up
    out = []
    for i in range(len(queries)):
        q = queries[i : i + 1]
        t0 = time.perf_counter()
        index.search(q, K)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


@dataclass
class Row:
    n: int
    kind: str
    params: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    recall: float | None = None
    bytes: int | None = None
    rss_growth: int | None = None
    rss_peak_growth: int | None = None
    build_s: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Built:
    index: faiss.Index
    seconds: float
    rss_growth: int
    rss_peak_growth: int | None


def build(make: Callable[[], faiss.Index]) -> Built:
    rss0 = C.rss_bytes()
    peak_ok = C.reset_peak_rss()
    t0 = time.perf_counter()
    with quiet_stderr():
        index = make()
    seconds = time.perf_counter() - t0
    rss1 = C.rss_bytes()
    peak = C.peak_rss_bytes() - rss0 if peak_ok else None
    return Built(index, seconds, rss1 - rss0, peak)


@dataclass
class Sample:
    """One size's vectors, the queries asked of every index and their exact top k."""

    n: int
    xb: np.ndarray
    queries: np.ndarray  # for recall; their first rows also time the latency
    q_latency: np.ndarray
    truth: np.ndarray


def measure(
    rows: list[Row],
    sample: Sample,
    kind: str,
    built: Built,
    settings: Sequence[tuple[str, Callable[[], None]]],
) -> None:
    size = index_bytes(built.index)
    for params, apply in settings:
        apply()
        ms = single_query_ms(built.index, sample.q_latency)
        _, found = built.index.search(sample.queries, K)
        rows.append(
            Row(
                n=sample.n,
                kind=kind,
                params=params,
                p50_ms=C.median(ms),
                p95_ms=C.percentile(ms, 95),
                recall=recall_at_k(found, sample.truth),
                bytes=size,
                rss_growth=built.rss_growth,
                rss_peak_growth=built.rss_peak_growth,
                build_s=built.seconds,
            )
        )
        C.emit(
            f"  {kind:<9} {params:<22} p50 {rows[-1].p50_ms:8.3f} ms  "
            f"recall@10 {rows[-1].recall:.3f}  build {built.seconds:6.1f} s  "
            f"{C.human_bytes(size)}"
        )


# ----- one size ----------------------------------------------------------------------------


@dataclass
class Plan:
    sizes: list[int]
    topics: int
    q_recall: int
    q_latency: int
    q_latency_flat_1m: int
    hnsw_budget: float
    deadline: float


def run_size(
    n: int, plan: Plan, mixture: Mixture, rng: np.random.Generator, hnsw_rate: list[float]
) -> list[Row]:
    """Every index at one size; each stage frees its indexes before the next is built, so
    that one's memory growth is not another's."""
    t0 = time.perf_counter()
    xb = mixture.draw(rng, n)
    queries = mixture.draw(rng, plan.q_recall)
    C.emit(f"N = {n:,}: data drawn in {time.perf_counter() - t0:.1f} s")
    flat_latency = plan.q_latency if n < 1_000_000 else plan.q_latency_flat_1m
    rows, sample = run_flat(n, xb, queries[:flat_latency], queries, rng)
    sample.q_latency = queries[: plan.q_latency]
    rows += run_ivf(sample, rng)
    rows += run_hnsw(sample, plan, hnsw_rate)
    return rows


def run_flat(
    n: int, xb: np.ndarray, q_latency: np.ndarray, queries: np.ndarray, rng: np.random.Generator
) -> tuple[list[Row], Sample]:
    """Exact search: the ground truth, and the baseline. Its rows carry the data's
    difficulty (mean cosines) in `extra`."""
    rows: list[Row] = []
    pairs = rng.integers(0, n, size=(2, 2000))
    flat = build(lambda: _flat(xb))
    truth_scores, truth = flat.index.search(queries, K)
    stats = {
        "top1_cosine": float(np.mean(truth_scores[:, 0])),
        "top10_cosine": float(np.mean(truth_scores[:, -1])),
        "random_pair_cosine": float(np.mean(np.sum(xb[pairs[0]] * xb[pairs[1]], axis=1))),
    }
    sample = Sample(n, xb, queries, q_latency, truth)
    # FAISS splits one query's exact scan across its threads; on a shared machine one
    # descheduled thread stalls the query, so the single-threaded scan is measured too.
    threads = faiss.omp_get_max_threads()
    flat_settings = [("exact", lambda: None)]
    if threads > 1:
        flat_settings.append(("exact, 1 thread", lambda: faiss.omp_set_num_threads(1)))
    measure(rows, sample, "flat", flat, flat_settings)
    faiss.omp_set_num_threads(threads)
    for row in rows:
        row.extra = stats
    return rows, sample


def run_ivf(sample: Sample, rng: np.random.Generator) -> list[Row]:
    """IVF-Flat, then IVF-PQ (bare and re-ranked) on the same coarse centroids and the
    same assignment of the vectors to them."""
    rows: list[Row] = []
    n, xb = sample.n, sample.xb
    nlist = int(round(4 * math.sqrt(n)))
    train = xb[rng.choice(n, size=min(n, 40 * nlist), replace=False)]
    quantizer = faiss.IndexFlatIP(DIM)
    assign: list[np.ndarray] = []

    def make_ivf() -> faiss.Index:
        ivf = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.spherical = True  # centroids on the sphere, as the data
        ivf.train(train)
        assign.append(quantizer.assign(xb, 1).ravel())
        faiss.contrib.ivf_tools.add_preassigned(ivf, xb, assign[0])
        return ivf

    ivf = build(make_ivf)
    measure(
        rows, sample, "ivf-flat", ivf,
        [(f"nlist {nlist}, nprobe {p}", _setter(ivf.index, "nprobe", p)) for p in (8, 16, 32)],
    )  # fmt: skip
    del ivf

    def make_pq() -> faiss.Index:
        pq = faiss.IndexIVFPQ(quantizer, DIM, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
        pq.train(train)  # the coarse quantizer is trained already: this trains the codes
        faiss.contrib.ivf_tools.add_preassigned(pq, xb, assign[0])
        return pq

    pq = build(make_pq)
    measure(
        rows, sample, "ivf-pq", pq,
        [(f"m 48, nprobe {p}", _setter(pq.index, "nprobe", p)) for p in (16, 32)],
    )  # fmt: skip
    refine = build(lambda: faiss.IndexRefineFlat(pq.index, faiss.swig_ptr(xb)))
    refine.seconds += pq.seconds
    refine.index.k_factor = 4
    measure(
        rows, sample, "ivf-pq+rr", refine,
        [(f"m 48, nprobe {p}, 4k re-rank", _setter(pq.index, "nprobe", p)) for p in (16, 32)],
    )  # fmt: skip
    del refine  # free them before HNSW is built
    pq.index.reset()
    assign.clear()
    return rows


def run_hnsw(sample: Sample, plan: Plan, hnsw_rate: list[float]) -> list[Row]:
    """HNSW, bounded by an estimate from the last measured build rate (`hnsw_rate`, which
    a build here updates for the next size)."""
    n = sample.n
    estimate = _hnsw_estimate(n, hnsw_rate)
    left = plan.deadline - time.monotonic()
    if estimate is not None and estimate > min(plan.hnsw_budget, left):
        return _hnsw_skipped(n, estimate, hnsw_rate)

    def make_hnsw() -> faiss.Index:
        h = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
        h.hnsw.efConstruction = 200
        h.add(sample.xb)
        return h

    rows: list[Row] = []
    hnsw = build(make_hnsw)
    measure(
        rows, sample, "hnsw", hnsw,
        [(f"M 32, efC 200, efS {e}", _setter(hnsw.index.hnsw, "efSearch", e)) for e in (64, 128)],
    )  # fmt: skip
    hnsw_rate[:] = [n, hnsw.seconds, (rows[-1].bytes or 0) / n]
    if estimate is not None and estimate >= 5:
        rows[-1].note = f"build estimated at {estimate:.0f} s beforehand"
    return rows


def _flat(xb: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(DIM)
    index.add(xb)
    return index


def _setter(obj: Any, name: str, value: int) -> Callable[[], None]:
    return lambda: setattr(obj, name, value)


def _hnsw_estimate(n: int, measured: list[float]) -> float | None:
    """Build seconds at n from the last measured (n0, seconds): n log n scaling."""
    if not measured:
        return None
    n0, s0 = measured[0], measured[1]
    return s0 * (n / n0) * (math.log(n) / math.log(n0))


def _hnsw_skipped(n: int, estimate: float, measured: list[float]) -> list[Row]:
    n0, per_vector = int(measured[0]), measured[2]
    note = (
        f"not built: estimated {estimate:.0f} s from the {n0:,} build (n log n); "
        f"memory extrapolated at {per_vector:.0f} B/vector; raise --hnsw-budget to build it"
    )
    C.emit(f"  hnsw      skipped: {note}")
    return [
        Row(n=n, kind="hnsw", params="M 32, efC 200", bytes=int(per_vector * n),
            build_s=estimate, note=note)
    ]  # fmt: skip


# ----- reporting ---------------------------------------------------------------------------


def report(rows: list[Row], info: dict[str, Any]) -> list[str]:
    cores = f"{info['usable_cores']} cores, {info['faiss_threads']} faiss threads"
    table_rows = []
    for r in rows:
        table_rows.append(
            [
                f"{r.n:,}",
                r.kind,
                r.params,
                C.fmt(r.p50_ms, 3),
                C.fmt(r.p95_ms, 3),
                C.fmt(r.recall, 3),
                C.human_bytes(r.bytes),
                C.human_bytes(r.bytes * 1e6 / r.n) if r.bytes else "n/a",
                C.human_bytes(r.rss_growth) if r.rss_growth is not None else "n/a",
                C.human_bytes(r.rss_peak_growth) if r.rss_peak_growth is not None else "n/a",
                r.build_s,
            ]
        )
    C.emit(
        C.table(
            f"FAISS, k={K}, d={DIM}, one query at a time ({cores})",
            ["N", "index", "settings", "p50 ms", "p95 ms", "recall@10", "size",
             "size per 1M", "RSS growth", "RSS peak", "build s"],
            table_rows,
        )
    )  # fmt: skip
    for r in rows:
        if r.note:
            C.emit(f"note: {r.kind} at {r.n:,}: {r.note}")
    flats = [r for r in rows if r.kind == "flat"]
    for r in flats:
        if r.params != "exact":
            continue
        e = r.extra
        C.emit(
            f"data at {r.n:,}: mean cosine of a query to its nearest neighbour "
            f"{e['top1_cosine']:.3f}, to its 10th {e['top10_cosine']:.3f}; "
            f"random pair {e['random_pair_cosine']:.3f}"
        )
    C.emit()
    return recommend(rows, flats)


def recommend(rows: list[Row], flats: list[Row]) -> list[str]:
    lines = [
        f"Recommendation (recall@10 >= {RECALL_TARGET}): flat while its p50 <= "
        f"{FLAT_IS_CHEAP_MS:.0f} ms, else the fastest p50 that reaches the target:"
    ]
    for n in sorted({r.n for r in rows}):
        ok = [r for r in rows if r.n == n and r.recall is not None and r.recall >= RECALL_TARGET]
        if not ok:
            lines.append(f"  {n:>9,}: nothing measured reaches the target")
            continue
        flat = min((r for r in ok if r.kind == "flat"), key=lambda r: r.p50_ms or math.inf)
        if (flat.p50_ms or math.inf) <= FLAT_IS_CHEAP_MS:
            best = flat  # exact, nothing to train or tune, and already cheap
        else:
            best = min(ok, key=lambda r: r.p50_ms or math.inf)
        small = min(ok, key=lambda r: r.bytes or math.inf)
        line = (
            f"  {n:>9,}: {best.kind} ({best.params}): p50 {best.p50_ms:.3f} ms, recall "
            f"{best.recall:.3f}, {C.human_bytes(best.bytes)}"
        )
        if small.kind != best.kind:
            line += (
                f"; least memory: {small.kind} ({small.params}) {C.human_bytes(small.bytes)}, "
                f"p50 {small.p50_ms:.3f} ms, recall {small.recall:.3f}"
            )
        lines.append(line)
    # Where exact search stops being cheap next to encoding the question (~10 ms here).
    if flats:
        top = max(r.n for r in flats)  # fixed costs dominate small sizes
        largest = min((r for r in flats if r.n == top), key=lambda r: r.p50_ms or math.inf)
        per_vector_ms = (largest.p50_ms or 0.0) / largest.n
        for budget in (FLAT_IS_CHEAP_MS, 10.0):
            lines.append(
                f"  flat ({largest.params}) costs ~{per_vector_ms * 1e6:.2f} ms per million "
                f"vectors per query: under {budget:.0f} ms up to "
                f"~{budget / per_vector_ms:,.0f} vectors"
            )
    lines.append(
        "  rule: flat (exact, no training, no tuning) while its latency is small next to "
        "encoding the question; above that IVF-Flat with nprobe chosen for the recall target; "
        "IVF-PQ with re-ranking when the vectors no longer fit in RAM comfortably; HNSW only "
        "where its build time and memory are acceptable"
    )
    for line in lines:
        C.emit(line)
    return lines


# ----- main --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = C.parser("bench_scale", __doc__.splitlines()[0])
    ap.add_argument("--sizes", help="comma-separated vector counts (default 10000,100000,1000000)")
    ap.add_argument(
        "--hnsw-budget",
        type=float,
        default=150.0,
        help="seconds an HNSW build may be estimated to take before it is skipped (150)",
    )
    ap.add_argument(
        "--time-limit", type=float, default=540.0, help="soft limit for the whole run, s (540)"
    )
    ap.add_argument("--threads", type=int, default=None, help="FAISS OpenMP threads")
    args = ap.parse_args(argv)
    threads = args.threads or (1 if args.quick else None)  # quick: robust on a busy machine
    if threads:
        faiss.omp_set_num_threads(threads)

    default_sizes = "1000,3000" if args.quick else "10000,100000,1000000"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    plan = Plan(
        sizes=sizes,
        topics=50 if args.quick else 1000,
        q_recall=100 if args.quick else 500,
        q_latency=30 if args.quick else 200,
        q_latency_flat_1m=50,
        hnsw_budget=args.hnsw_budget,
        deadline=time.monotonic() + args.time_limit,
    )
    info = C.machine_info(torch_threads=False)
    C.print_header("bench_scale: FAISS latency, recall and memory", info, quick=args.quick)
    rng = np.random.default_rng(20261121)
    mixture = Mixture.make(rng, topics=plan.topics)
    rows: list[Row] = []
    hnsw_rate: list[float] = []
    for n in sizes:
        if time.monotonic() > plan.deadline:
            C.note(f"N = {n:,} skipped: past the --time-limit of {args.time_limit:.0f} s")
            continue
        rows.extend(run_size(n, plan, mixture, rng, hnsw_rate))
    C.emit()
    lines = report(rows, info)
    C.save_json(
        C.json_path(args.json, "bench_scale"),
        {
            "benchmark": "bench_scale",
            "quick": args.quick,
            "machine": info,
            "rows": [r.__dict__ for r in rows],
            "recommendation": lines,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
