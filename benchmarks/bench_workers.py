"""Multi-process serving: memory per added worker and requests per second against N.

For N = 1, 2 (and 4 in full mode, where the machine has the memory) this starts a real
`qa serve --workers N` on 127.0.0.1 over one index of the SQuAD 2.0 dev slice (the seed
corpus with --quick), waits until every worker has answered, warms each up, then:

  memory      PSS and RSS summed over the server's process tree (the uvicorn parent,
              its workers and multiprocessing's resource tracker), from
              /proc/<pid>/smaps_rollup after the load run. PSS divides every shared
              page among the processes mapping it, so the tree's PSS is what it
              really costs; RSS counts a shared page once per process. Beside it,
              each worker's mapping of the index files (vectors.faiss, lexical/*):
              RSS is the whole file, PSS its 1/N share of the one copy.
  throughput  C concurrent clients (16; 4 with --quick) send POST /ask with SQuAD
              questions for a bounded time (15 s; 3 s with --quick), each request
              on a new connection so that the kernel spreads them over the workers
              (a keep-alive connection stays with the worker that accepted it);
              req/s, p50/p95 latency, errors, and how the requests split by worker
              (the X-QA-Worker response header).

torch threads per worker: --threads (default 1), passed as OMP_NUM_THREADS. One thread
a worker is the fair comparison: concurrent requests use the cores in every N, and
several spin-waiting OpenMP threads per process on a busy machine slow everything down.

Run:  .venv/bin/python benchmarks/bench_workers.py [--quick] [--workers 1,2,4]
                                                   [--threads T] [--json [FILE]]
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import _common as C
import httpx

K = 5
WORKER_HEADER = "X-QA-Worker"
# Full mode tries 4 workers only with this much memory free per worker (model + torch).
FREE_PER_WORKER = 1 << 30


# ----- data and index ----------------------------------------------------------------------


def build_index(index_dir: Path, quick: bool) -> tuple[list[str], str, int]:
    """Index the corpus into `index_dir`; returns (questions, label, chunks)."""
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.indexing import update_index
    from qa.search.embedding import SentenceTransformerEmbedder

    documents, questions, label = C.all_questions(quick)
    settings = Settings(index_dir=index_dir)
    embedder = SentenceTransformerEmbedder(settings.model)
    stats = update_index(
        documents, index_dir=index_dir, embedder=embedder, settings=chunk_settings(settings)
    )
    del embedder
    gc.collect()
    return questions, label, stats.chunks


# ----- /proc -------------------------------------------------------------------------------


def _ppid_and_name(pid: int) -> tuple[int, str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    return int(stat.rsplit(")", 1)[1].split()[1]), name


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parents.setdefault(_ppid_and_name(int(entry.name))[0], []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return sorted(tree)


def rollup(pid: int) -> dict[str, int]:
    """Rss, Pss, Pss_Anon, Pss_File of a process in bytes (smaps_rollup)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0].rstrip(":") in ("Rss", "Pss", "Pss_Anon", "Pss_File"):
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def mapped_under(pid: int, folder: Path) -> dict[str, int]:
    """RSS and PSS in bytes of this process's mappings of files under `folder`."""
    root = str(folder.resolve()) + os.sep
    rss = pss = 0
    inside = False
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            parts = line.split()
            if parts and "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                inside = len(parts) >= 6 and parts[5].startswith(root)
            elif inside and parts[0] == "Rss:":
                rss += int(parts[1]) * 1024
            elif inside and parts[0] == "Pss:":
                pss += int(parts[1]) * 1024
    return {"rss": rss, "pss": pss}


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def mem_available() -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


# ----- the server --------------------------------------------------------------------------


async def _burst(url: str, n: int, path: str, body: dict[str, Any] | None) -> list[str]:
    """`n` requests at once, each on its own connection; the workers that answered."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one() -> str:
            if body is None:
                r = await client.get(path)
            else:
                r = await client.post(path, json=body)
            r.raise_for_status()
            return r.headers[WORKER_HEADER]

        return list(await asyncio.gather(*(one() for _ in range(n))))


def wait_for_workers(url: str, workers: int, questions: Sequence[str], timeout: float) -> float:
    """Until every worker has answered (and so loaded), then a few questions each as
    warm-up. Returns the seconds it took for all to answer."""
    started = time.monotonic()
    seen: Counter[str] = Counter()
    while len(seen) < workers or min(seen.values()) < 3:
        if time.monotonic() - started > timeout:
            C.fail(f"only {len(seen)} of {workers} workers answered in {timeout:.0f} s")
        q = questions[sum(seen.values()) % len(questions)]
        seen.update(asyncio.run(_burst(url, 2 * workers, "/ask", {"question": q, "k": K})))
    return time.monotonic() - started


# ----- load --------------------------------------------------------------------------------


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    by_worker: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    seconds: float = 0.0


async def load(url: str, questions: Sequence[str], clients: int, seconds: float) -> Load:
    result = Load()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                q = questions[result.sent % len(questions)]
                result.sent += 1
                t0 = time.perf_counter()
                try:
                    r = await client.post("/ask", json={"question": q, "k": K})
                except httpx.HTTPError as exc:
                    result.errors.append(type(exc).__name__)
                    continue
                if r.status_code == 200:
                    result.latencies.append(time.perf_counter() - t0)
                    result.by_worker[r.headers.get(WORKER_HEADER, "?")] += 1
                else:
                    result.errors.append(f"HTTP {r.status_code}")

        await asyncio.gather(*(worker() for _ in range(clients)))
        result.seconds = time.perf_counter() - started
    return result


# ----- one N -------------------------------------------------------------------------------


@dataclass
class Row:
    workers: int
    threads: int
    ready_s: float
    pss: int
    rss: int
    pss_anon: int
    pss_file: int
    pss_per_worker_process: float
    pss_other: int
    index_rss_per_worker: int
    index_pss_per_worker: int
    ok: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms_per_req: float | None
    split: list[int]


def measure(
    index_dir: Path, workdir: Path, n: int, threads: int, questions: Sequence[str], plan: Any
) -> Row:
    log = workdir / f"serve-{n}.log"
    started = time.monotonic()
    env = {
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
    }
    with C.qa_server(
        index_dir,
        log,
        extra=["--workers", str(n)],
        env=env,
        timeout=plan.start_timeout,
        stop_timeout=60,
    ) as (url, parent):
        wait_for_workers(url, n, questions, plan.start_timeout)
        ready = time.monotonic() - started
        tree = process_tree(parent)
        cpu0 = cpu_seconds(tree)
        res = asyncio.run(load(url, questions, plan.clients, plan.seconds))
        cpu1 = cpu_seconds(tree)
        tree = process_tree(parent)  # the same processes, unless one was restarted
        mem = {pid: rollup(pid) for pid in tree}
        # The workers: the parent's children, or with N = 1 the parent itself.
        workers = [pid for pid in tree if pid != parent and mapped_under(pid, index_dir)["rss"]]
        workers = workers or [parent]
        index_maps = [mapped_under(pid, index_dir) for pid in workers]
        worker_pss = [mem.get(pid, {}).get("Pss", 0) for pid in workers]
    errors = log.read_text(errors="replace")
    if "Traceback" in errors or "was not loaded" in errors:
        C.note(f"the server log of N={n} has errors:\n{errors[-2000:]}")
    ms = [t * 1e3 for t in res.latencies]
    ok = len(ms)
    return Row(
        workers=n,
        threads=threads,
        ready_s=ready,
        pss=sum(m.get("Pss", 0) for m in mem.values()),
        rss=sum(m.get("Rss", 0) for m in mem.values()),
        pss_anon=sum(m.get("Pss_Anon", 0) for m in mem.values()),
        pss_file=sum(m.get("Pss_File", 0) for m in mem.values()),
        pss_per_worker_process=sum(worker_pss) / len(worker_pss),
        pss_other=sum(m.get("Pss", 0) for m in mem.values()) - sum(worker_pss),
        index_rss_per_worker=max((m["rss"] for m in index_maps), default=0),
        index_pss_per_worker=max((m["pss"] for m in index_maps), default=0),
        ok=ok,
        errors=len(res.errors),
        seconds=res.seconds,
        rps=ok / res.seconds if res.seconds else float("nan"),
        p50_ms=C.median(ms),
        p95_ms=C.percentile(ms, 95),
        server_cpu_ms_per_req=(cpu1 - cpu0) * 1e3 / ok if ok else None,
        split=sorted(res.by_worker.values(), reverse=True),
    )


# ----- all N -------------------------------------------------------------------------------


@dataclass
class Plan:
    counts: list[int]
    clients: int
    seconds: float
    start_timeout: float


def plan_for(args: Any) -> Plan:
    if args.workers:
        counts = sorted({int(x) for x in args.workers.split(",")})
    elif args.quick:
        counts = [1, 2]
    else:
        counts = [1, 2]
        if mem_available() >= 4 * FREE_PER_WORKER + (1 << 30):
            counts.append(4)
        else:
            C.note("4 workers skipped: not enough free memory for four models")
    if args.quick:
        return Plan(counts, clients=4, seconds=3.0, start_timeout=240.0)
    return Plan(counts, clients=16, seconds=15.0, start_timeout=300.0)


def run_counts(plan: Plan, *, threads: int, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    """One index, then a server for each worker count in turn; returns the rows and what
    the index is (its label, chunks and bytes on disk, as the JSON keeps them)."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="qa-bench-workers-") as tmp:
        index_dir = Path(tmp) / "index"
        questions, label, chunks = build_index(index_dir, quick)
        index_bytes = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
        C.emit(f"index: {label}; {chunks} chunks, {C.human_bytes(index_bytes)} on disk")
        for n in plan.counts:
            C.emit(f"N = {n}: starting {n} worker(s), {threads} torch thread(s) each ...")
            rows.append(measure(index_dir, Path(tmp), n, threads, questions, plan))
            r = rows[-1]
            C.emit(
                f"  ready in {r.ready_s:.1f} s; {r.rps:.2f} req/s, p50 {r.p50_ms:.0f} ms, "
                f"{r.errors} errors; PSS {C.human_bytes(r.pss)}"
            )
    return rows, {"label": label, "chunks": chunks, "bytes_on_disk": index_bytes}


# ----- reporting ---------------------------------------------------------------------------

MB = 1e6


def report(rows: list[Row], info: dict[str, Any], plan: Plan) -> None:
    cores_text = C.cores_label(info)
    C.emit(serving_table(rows, plan, cores_text))
    C.emit()
    C.emit(index_table(rows, cores_text))
    C.emit(
        "PSS MB / worker: the mean over the worker processes; parent PSS MB: the rest of "
        "the tree (with N > 1 the uvicorn supervisor and multiprocessing's resource "
        "tracker; with N = 1 the one process is the worker)"
    )
    C.emit(
        f"usable cores: {int(info['usable_cores'])}; past one busy worker per core, more "
        "workers add memory, not throughput"
    )
    C.emit(
        "PSS counts a shared page 1/N in each of the N processes that map it: the mapped "
        "index files cost one copy in all, however many workers; the model, torch and "
        "the documents and chunk table (JSON, loaded per process) are private to each."
    )


def serving_table(rows: list[Row], plan: Plan, cores_text: str) -> str:
    """Memory and throughput at each N; the memory an added worker costs is measured
    against the first (smallest) N."""
    base = rows[0]
    table_rows = []
    for r in rows:
        added = r.workers - base.workers
        per_added = (r.pss - base.pss) / added / MB if added else None
        table_rows.append(
            [
                str(r.workers),
                r.threads,
                r.pss / MB,
                per_added,
                r.pss_per_worker_process / MB,
                r.pss_other / MB,
                r.rss / MB,
                r.rps,
                r.p50_ms,
                r.p95_ms,
                r.errors,
                "/".join(str(x) for x in r.split),
                r.server_cpu_ms_per_req,
                r.ready_s,
            ]
        )
    return C.table(
        f"qa serve --workers N: memory and POST /ask throughput, {plan.clients} clients, "
        f"{plan.seconds:.0f} s each ({cores_text})",
        ["workers", "threads", "total PSS MB", "PSS MB / added worker", "PSS MB / worker",
         "parent PSS MB", "total RSS MB", "req/s", "p50 ms", "p95 ms", "errors",
         "requests by worker", "server CPU ms/req", "ready s"],
        table_rows,
    )  # fmt: skip


def index_table(rows: list[Row], cores_text: str) -> str:
    """The index files each worker maps: RSS is the whole file, PSS its share of one copy."""
    return C.table(
        f"Index files mapped by each worker, kB ({cores_text})",
        ["workers", "RSS per worker", "PSS per worker", "PSS x workers", "anon PSS MB"],
        [
            [
                str(r.workers),
                r.index_rss_per_worker // 1024,
                r.index_pss_per_worker // 1024,
                r.index_pss_per_worker * r.workers // 1024,
                r.pss_anon / MB,
            ]
            for r in rows
        ],
    )


# ----- main --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = C.parser("bench_workers", __doc__.splitlines()[0])
    ap.add_argument("--workers", help="comma-separated worker counts (default 1,2[,4])")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    args = ap.parse_args(argv)
    if not Path("/proc/self/smaps_rollup").is_file():
        C.fail("this benchmark reads /proc/<pid>/smaps_rollup: it needs Linux 4.14 or later")
    info = C.machine_info(torch_threads=False)
    C.print_header("bench_workers: qa serve --workers N", info, quick=args.quick)
    plan = plan_for(args)
    rows, index = run_counts(plan, threads=args.threads, quick=args.quick)
    C.emit()
    report(rows, info, plan)
    C.save_json(
        C.json_path(args.json, "bench_workers"),
        {
            "benchmark": "bench_workers",
            "quick": args.quick,
            "machine": info,
            "index": index,
            "clients": plan.clients,
            "seconds_per_level": plan.seconds,
            "rows": [asdict(r) for r in rows],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
