"""Answering latency and throughput: POST /ask on a real `qa serve` against the raw
encode + FAISS search of the same question, and QAService.ask in process.

One index is built into a temporary folder; a real `qa serve` subprocess answers
on 127.0.0.1; this process loads the same model and index for the in-process
paths. For each question, in an order that rotates from question to question:

  raw        SentenceTransformer.encode([question]) + FAISS search, k=5 (the floor),
             at the precision the service uses (QA_PRECISION)
  service    QAService.ask(question, k=5) in process: retrieval + answer selection
  http       POST /ask {"question": ..., "k": 5} to the server (httpx, keep-alive)
  keepalive  the same over one persistent connection with http.client (no client
             library's overhead): the row the targets are about
  health     GET /health: the HTTP + framework cost alone, for reference

This process runs with the OpenMP wait policy that `qa serve` gives the server
(PASSIVE unless OMP_WAIT_POLICY says otherwise), so both sides sleep or spin alike.

Then requests per second at 1, 8 and 32 concurrent clients (asyncio + httpx),
each level bounded by a request count and a time limit, with errors counted and
the CPU seconds the server and this client used per request.

Run:  .venv/bin/python benchmarks/bench_ask.py [--quick] [--threads N] [--json [FILE]]
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as C
import httpx
import numpy as np

K = 5
LEVELS = (1, 8, 32)


# ----- the server --------------------------------------------------------------------------


def thread_env(threads: int | None) -> dict[str, str]:
    """The server's environment: its index, and its thread count when one is given."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {}


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process from /proc (Linux), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# ----- sequential latency ------------------------------------------------------------------


def sequential(
    questions: Sequence[str],
    steps: dict[str, Callable[[str], Any]],
    rounds: int,
    max_seconds: float,
    clocks: dict[str, Callable[[], float | None]],
) -> tuple[dict[str, list[float]], dict[str, list[float]], bool]:
    """Every path once per question, rounds times, stopping early (after a whole question)
    once `max_seconds` have passed. Returns wall times, CPU times (from each path's clock:
    this process for in-process paths, the server for HTTP) and whether it stopped early."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    turn = 0
    deadline = time.perf_counter() + max_seconds
    for _ in range(rounds):
        for q in questions:
            if time.perf_counter() > deadline:
                return times, cpu, True
            order = names[turn % len(names) :] + names[: turn % len(names)]
            turn += 1
            for name in order:
                c0 = clocks[name]()
                t0 = time.perf_counter()
                steps[name](q)
                times[name].append(time.perf_counter() - t0)
                c1 = clocks[name]()
                if c0 is not None and c1 is not None:
                    cpu[name].append(c1 - c0)
    return times, cpu, False


class TimingEmbedder:
    """Delegates to an embedder and records (texts, seconds) of every encode call, so the
    cost of each encode inside QAService.ask shows without knowing how ask is written."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[tuple[int, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def encode(self, texts: Sequence[str], **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = self._inner.encode(texts, **kwargs)
        self.calls.append((len(texts), time.perf_counter() - t0))
        return out


def breakdown(
    make_service: Callable[[Any], Any],
    embedder: Any,
    questions: Sequence[str],
    max_seconds: float,
) -> list[list[Any]] | None:
    """Where QAService.ask spends its time: its encode calls, timed through a proxy."""
    try:
        proxy = TimingEmbedder(embedder)
        service = make_service(proxy)
        service.ask(questions[0], k=K)  # warm-up
        total, first, other, other_texts, calls = [], [], [], [], []
        deadline = time.perf_counter() + max_seconds
        for q in questions:
            if total and time.perf_counter() > deadline:
                break
            proxy.calls.clear()
            t, _ = C.timed(lambda q=q: service.ask(q, k=K))
            total.append(t)
            calls.append(len(proxy.calls))
            first.append(proxy.calls[0][1] if proxy.calls else 0.0)
            other.append(sum(s for _, s in proxy.calls[1:]))
            other_texts.append(sum(n for n, _ in proxy.calls[1:]))
    except Exception as exc:  # the core is changing; the breakdown is a bonus
        C.note(f"ask breakdown skipped ({type(exc).__name__}: {exc})")
        return None
    rest = [t - a - b for t, a, b in zip(total, first, other, strict=True)]
    share = C.median(total)
    return [
        ["QAService.ask, total", C.median(total) * 1e3, 1.0, None],
        ["first encode call (the question)", C.median(first) * 1e3, C.median(first) / share, 1],
        [
            "later encode calls (answer candidates)",
            C.median(other) * 1e3,
            C.median(other) / share,
            C.median(other_texts),
        ],
        [
            "the rest: search, BM25, fusion, answer choice",
            C.median(rest) * 1e3,
            C.median(rest) / share,
            None,
        ],
        ["encode calls per ask (median)", None, None, C.median(calls)],
        [f"questions measured (of {len(questions)})", None, None, len(total)],
    ]


# ----- concurrency -------------------------------------------------------------------------


async def load_level(
    url: str,
    questions: Sequence[str],
    clients: int,
    max_requests: int,
    max_seconds: float,
    grace: float,
) -> dict[str, Any]:
    """`clients` workers send requests until max_requests were sent or max_seconds passed;
    requests still open `grace` seconds after that are cancelled and counted unfinished."""
    latencies: list[float] = []
    errors: list[str] = []
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker() -> None:
            nonlocal sent
            while sent < max_requests and time.perf_counter() < deadline:
                q = questions[sent % len(questions)]
                sent += 1
                t0 = time.perf_counter()
                try:
                    r = await client.post("/ask", json={"question": q, "k": K})
                    if r.status_code == 200:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors.append(f"HTTP {r.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)

        tasks = [asyncio.ensure_future(worker()) for _ in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=max_seconds + grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = time.perf_counter() - started
    unfinished = sent - len(latencies) - len(errors)
    return {
        "latencies": latencies,
        "errors": errors,
        "seconds": elapsed,
        "sent": sent,
        "unfinished": unfinished,
    }


def wait_until_idle(pid: int, *, limit: float = 60.0) -> None:
    """Let the server finish work that cancelled requests left behind (bounded)."""
    deadline = time.monotonic() + limit
    before = process_cpu_seconds(pid)
    while before is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        after = process_cpu_seconds(pid)
        if after is None or after - before < 0.05:
            return
        before = after


def throughput(
    url: str,
    pid: int,
    questions: Sequence[str],
    max_requests: int,
    max_seconds: float,
    grace: float,
) -> list[dict[str, Any]]:
    results = []
    for clients in LEVELS:
        wait_until_idle(pid)
        server_cpu0 = process_cpu_seconds(pid)
        client_cpu0 = time.process_time()
        res = asyncio.run(load_level(url, questions, clients, max_requests, max_seconds, grace))
        server_cpu1 = process_cpu_seconds(pid)
        res["clients"] = clients
        res["client_cpu_s"] = time.process_time() - client_cpu0
        res["server_cpu_s"] = (
            server_cpu1 - server_cpu0
            if server_cpu0 is not None and server_cpu1 is not None
            else None
        )
        results.append(res)
    return results


# ----- the run ---------------------------------------------------------------------------


@dataclass
class Bounds:
    """How much each phase measures, whatever the machine's load."""

    n_questions: int
    rounds: int
    max_requests: int
    max_seconds: float
    grace: float
    seq_seconds: float  # the sequential phase
    parts_seconds: float  # the breakdown of QAService.ask


@dataclass
class Results(C.SequentialResults):
    answered: dict[str, bool] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    connections: int = 0  # TCP connections the keep-alive path opened
    parts: list[list[Any]] | None = None
    levels: list[dict[str, Any]] = field(default_factory=list)
    server_log: str = ""


def parse_args(argv: Sequence[str] | None) -> tuple[Any, Bounds]:
    ap = C.parser("bench_ask", __doc__.splitlines()[0])
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch/OpenMP threads here and in the server (default: the libraries' own)",
    )
    args = ap.parse_args(argv)
    # The in-process paths run with the OpenMP wait policy `qa serve` gives the server
    # (before torch loads), so that both sides of each ratio sleep or spin alike.
    from qa.cli import SERVE_OMP_WAIT_POLICY

    os.environ.setdefault("OMP_WAIT_POLICY", SERVE_OMP_WAIT_POLICY)
    if args.quick and not args.threads:
        args.threads = 1  # quick mode: robust on a busy shared machine
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.quick:
        return args, Bounds(3, 1, 4, 3.0, 5.0, 20.0, 10.0)
    return args, Bounds(60, 3, 200, 20.0, 15.0, 150.0, 40.0)


class KeepAlive:
    """POST /ask over one persistent connection with the standard library's client: the
    transport a keep-alive client pays, without a client library's own overhead."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.connections = 0

    def post(self, question: str) -> bytes:
        body = json.dumps({"question": question, "k": K}).encode()
        try:
            response = self._send(body)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closes a connection idle for longer than its keep-alive timeout
            # (5 s): open another, and count it.
            self._conn.close()
            response = self._send(body)
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /ask answered {response.status}: {data[:200]!r}")
        return data

    def _send(self, body: bytes) -> http.client.HTTPResponse:
        if self._conn.sock is None:
            self.connections += 1
        self._conn.request("POST", "/ask", body, {"Content-Type": "application/json"})
        return self._conn.getresponse()

    def close(self) -> None:
        self._conn.close()


def in_process_paths(
    settings: Any, embedder: Any, index_dir: Path, precision: str, answered: dict[str, bool]
) -> dict[str, Callable[[str], Any]]:
    from qa.search.index import Index
    from qa.service import QAService

    service = QAService.from_settings(settings, embedder)
    index = Index.load(index_dir)
    raw_model = C.raw_model(precision)  # the service's precision: same arithmetic

    def raw(q: str) -> Any:
        v = C.raw_encode(raw_model, [q])
        return index.faiss.search(np.ascontiguousarray(v, dtype=np.float32), K)

    def ask(q: str) -> None:
        answered[q] = service.ask(q, k=K).answerable

    return {"raw": raw, "service": ask}


def http_paths(http: httpx.Client, keepalive: KeepAlive) -> dict[str, Callable[[str], Any]]:
    def post(q: str) -> None:
        http.post("/ask", json={"question": q, "k": K}).raise_for_status()

    def health(_: str) -> None:
        http.get("/health").raise_for_status()

    return {"http": post, "keepalive": keepalive.post, "health": health}


def measure(args: Any, bounds: Bounds, res: Results) -> None:
    """Index the corpus, start qa serve on it, and run every phase against it."""
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.indexing import update_index
    from qa.service import QAService

    documents, res.questions, res.label = C.sampled_questions(args.quick, bounds.n_questions)
    with tempfile.TemporaryDirectory(prefix="qa-bench-ask-") as tmp:
        index_dir = Path(tmp) / "index"
        settings = Settings(index_dir=index_dir)
        embedder = C.service_embedder(settings)
        res.precision = C.embedder_precision(embedder)
        stats = update_index(
            documents, index_dir=index_dir, embedder=embedder, settings=chunk_settings(settings)
        )
        res.chunks = stats.chunks
        steps = in_process_paths(settings, embedder, index_dir, res.precision, res.answered)
        log = Path(tmp) / "serve.log"
        with (
            C.qa_server(index_dir, log, env=thread_env(args.threads)) as (url, pid),
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            keepalive = KeepAlive(url)
            steps |= http_paths(http, keepalive)
            sequential_phase(args, bounds, res, steps, pid)
            res.connections = keepalive.connections
            keepalive.close()
            res.parts = breakdown(
                lambda emb: QAService.from_settings(settings, emb),
                embedder,
                res.questions,
                bounds.parts_seconds,
            )
            res.levels = throughput(
                url, pid, res.questions, bounds.max_requests, bounds.max_seconds, bounds.grace
            )
        res.server_log = log.read_text(errors="replace").strip()


def sequential_phase(
    args: Any, bounds: Bounds, res: Results, steps: dict[str, Callable[[str], Any]], pid: int
) -> None:
    for q in res.questions[: 1 if args.quick else 3]:  # warm-up of every path
        for step in steps.values():
            step(q)

    def server_clock() -> float | None:
        return process_cpu_seconds(pid)

    clocks: dict[str, Callable[[], float | None]] = {
        name: server_clock if name in ("http", "keepalive", "health") else time.process_time
        for name in steps
    }
    res.times, res.cpu, res.stopped = sequential(
        res.questions, steps, bounds.rounds, bounds.seq_seconds, clocks
    )


# ----- the tables --------------------------------------------------------------------------


def print_setup(res: Results, bounds: Bounds, cores: str) -> None:
    answerable = sum(res.answered.values())
    C.emit(
        C.table(
            f"Setup ({cores})",
            ["corpus and questions", "chunks", "questions", "answered", "rounds", "k"],
            [
                [
                    res.label,
                    res.chunks,
                    len(res.questions),
                    f"{answerable}/{len(res.answered)}",
                    bounds.rounds,
                    K,
                ]
            ],
        )
    )
    if res.stopped:
        C.note(
            f"the sequential phase stopped at its {bounds.seq_seconds:.0f} s bound after "
            f"{len(res.times['raw'])} of {bounds.rounds * len(res.questions)} question runs"
        )
    C.emit()


def medians_ms(res: Results) -> dict[str, float]:
    return {k: C.median(v) * 1e3 for k, v in res.times.items()}


def print_latency(res: Results, cores: str) -> None:
    what = {
        "raw": f"SentenceTransformer.encode ({res.precision}) + FAISS search",
        "service": "QAService.ask in process",
        "http": "POST /ask to qa serve (httpx client, keep-alive)",
        "keepalive": f"POST /ask, one kept-alive connection ({res.connections} opened)",
        "health": "GET /health (HTTP floor)",
    }
    raw = C.median(res.times["raw"]) * 1e3
    rows = []
    for name, values in res.times.items():
        ms = [v * 1e3 for v in values]
        cpu = res.cpu[name]
        rows.append(
            [
                name,
                what[name],
                len(ms),
                C.median(ms),
                C.percentile(ms, 95),
                min(ms),
                C.ratio(C.median(ms), raw),
                C.median(cpu) * 1e3 if cpu else None,
            ]
        )
    C.emit(
        C.table(
            f"Latency of one question at a time, ms ({cores})",
            ["path", "what", "n", "p50", "p95", "min", "p50 / raw p50", "CPU ms p50"],
            rows,
        )
    )
    C.emit(
        "CPU ms: this process's CPU time for raw and service, the server's for http, "
        "keepalive and health (/proc ticks of 10 ms: coarse for one request, fine as a median)"
    )


def print_ratios(res: Results) -> None:
    med = medians_ms(res)
    C.emit(
        f"ratios of medians: http/raw {C.ratio(med['http'], med['raw']):.2f}, "
        f"service/raw {C.ratio(med['service'], med['raw']):.2f}, "
        f"http/service {C.ratio(med['http'], med['service']):.2f}"
    )
    C.emit(
        "keep-alive, one client: keepalive/service "
        f"{C.ratio(med['keepalive'], med['service']):.2f} (target <= 1.2), "
        f"keepalive/raw {C.ratio(med['keepalive'], med['raw']):.2f} (target <= 1.5)"
    )
    C.emit(
        f"answer selection and passage building (service - raw): "
        f"{med['service'] - med['raw']:.1f} ms; HTTP, JSON and threadpool (http - service): "
        f"{med['http'] - med['service']:.1f} ms; over one kept-alive connection "
        f"(keepalive - service): {med['keepalive'] - med['service']:.1f} ms"
    )
    C.emit()


def print_breakdown(res: Results, cores: str) -> None:
    if not res.parts:
        return
    C.emit(
        C.table(
            f"Where QAService.ask spends its time, medians over the questions ({cores})",
            ["piece", "p50 ms", "share of total p50", "texts"],
            res.parts,
        )
    )
    C.emit()


def level_row(res: dict[str, Any]) -> list[Any]:
    ms = [v * 1e3 for v in res["latencies"]]
    ok, server_cpu = len(ms), res["server_cpu_s"]
    return [
        res["clients"],
        res["sent"],
        ok,
        len(res["errors"]),
        res["unfinished"],
        res["seconds"],
        ok / res["seconds"] if res["seconds"] else float("nan"),
        C.median(ms),
        C.percentile(ms, 95),
        server_cpu * 1e3 / ok if server_cpu is not None and ok else None,
        res["client_cpu_s"] * 1e3 / ok if ok else None,
    ]


def print_throughput(res: Results, bounds: Bounds, cores: str) -> None:
    headers = [
        "clients",
        "sent",
        "ok",
        "errors",
        "unfinished",
        "seconds",
        "req/s",
        "p50 ms",
        "p95 ms",
        "server CPU ms/req",
        "client CPU ms/req",
    ]
    C.emit(
        C.table(
            f"Throughput of POST /ask, one qa serve worker ({cores})",
            headers,
            [level_row(r) for r in res.levels],
        )
    )
    C.emit(
        f"each level stops sending at {bounds.max_requests} requests or "
        f"{bounds.max_seconds:.0f} s and cancels what is still open {bounds.grace:.0f} s later "
        "(unfinished); the client runs on the same cores as the server"
    )
    rates = {r["clients"]: requests_per_second(r) for r in res.levels}
    C.emit(
        f"requests/s at {LEVELS[-1]} clients / at 1 client: "
        f"{C.ratio(rates[LEVELS[-1]], rates[1]):.2f} (target >= 2)"
    )
    for r in res.levels:
        if r["errors"]:
            C.emit(f"errors at {r['clients']} clients: {', '.join(sorted(set(r['errors'])))}")
    if res.server_log:
        C.emit("server log (warnings and errors):")
        C.emit("\n".join("  " + line for line in res.server_log.splitlines()[-10:]))


def requests_per_second(level: dict[str, Any]) -> float:
    return len(level["latencies"]) / level["seconds"] if level["seconds"] else float("nan")


def save(args: Any, info: dict[str, Any], res: Results) -> None:
    med = medians_ms(res)
    rates = {r["clients"]: requests_per_second(r) for r in res.levels}
    C.save_json(
        C.json_path(args.json, "bench_ask"),
        {
            "benchmark": "bench_ask",
            "quick": args.quick,
            "machine": info,
            "setup": {"label": res.label, "chunks": res.chunks, "questions": res.questions, "k": K},
            "sequential_seconds": res.times,
            "sequential_cpu_seconds": res.cpu,
            "p50_ms": med,
            "p95_ms": {k: C.percentile(v, 95) * 1e3 for k, v in res.times.items()},
            "ratios": {
                "http_over_raw": C.ratio(med["http"], med["raw"]),
                "service_over_raw": C.ratio(med["service"], med["raw"]),
                "http_over_service": C.ratio(med["http"], med["service"]),
                "keepalive_over_service": C.ratio(med["keepalive"], med["service"]),
                "keepalive_over_raw": C.ratio(med["keepalive"], med["raw"]),
                "rps_32_over_1": C.ratio(rates[LEVELS[-1]], rates[1]),
            },
            "keepalive_connections": res.connections,
            "breakdown_ms": res.parts,
            "levels": [level_json(r) for r in res.levels],
        },
    )


def level_json(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "clients": r["clients"],
        "sent": r["sent"],
        "ok": len(r["latencies"]),
        "errors": r["errors"],
        "unfinished": r["unfinished"],
        "seconds": r["seconds"],
        "requests_per_second": requests_per_second(r),
        "p50_ms": C.percentile(r["latencies"], 50) * 1e3,
        "p95_ms": C.percentile(r["latencies"], 95) * 1e3,
        "server_cpu_s": r["server_cpu_s"],
        "client_cpu_s": r["client_cpu_s"],
    }


# ----- main --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args, bounds = parse_args(argv)
    info = C.machine_info()
    C.print_header("bench_ask: answering latency and throughput", info, quick=args.quick)
    cores = C.cores_label(info)
    res = Results()
    measure(args, bounds, res)
    print_setup(res, bounds, cores)
    print_latency(res, cores)
    print_ratios(res)
    print_breakdown(res, cores)
    print_throughput(res, bounds, cores)
    save(args, info, res)
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds the with-blocks: server stopped, temp dir gone


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
