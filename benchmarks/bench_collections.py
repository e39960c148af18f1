"""Collections under load: one server with 3 collections against a single-collection
server, and the memory each extra collection adds.

Each collection is a copy of the same corpus (the SQuAD 2.0 dev slice; the seed corpus
with --quick) with its own index folder, so that every question costs the same whatever
collection it goes to, and what a collection adds is exactly its own index and nothing
else. Real `qa serve --collections FILE` processes (one worker each) run side by side:

  one         a collections file with 1 collection
  three       a collections file with 3 collections (one model for all three)
  plain       `qa serve --index` without collections (today's unprefixed routes), for
              reference; not with --quick

Every server is warmed up, then each takes the same closed-loop load in turn, in an order
that rotates from round to round: C concurrent clients (32; 8 with --quick) for S seconds
a round (10; 2 with --quick), each client asking the same questions in the same order
(POST .../ask, k=5, keep-alive). On `three` client i asks collection i mod 3, so the
clients are spread evenly over the collections. Reported: p50 and p95 latency, requests
per second (medians over the rounds), errors, and the ratios three/one (the target:
within 10%).

Memory, two ways:

  servers     the resident set (VmRSS, and its anonymous and file-backed parts, from
              /proc/<pid>/status) of `one` and `three` after the warm-up and after the
              load; (three - one) / 2 is what each extra collection costs, against the
              whole resident set of `one` (what another server, with its own model,
              would cost instead). Two processes differ by several MB of allocator
              noise, so this shows the order of magnitude only.
  in process  what loading one more collection adds to this process's resident set, as
              the server loads one (QAService.from_settings with the model it already
              holds), measured on 5 more loads of the same index after one: the median
              of the increments, beside the index's size on disk.

Run:  .venv/bin/python benchmarks/bench_collections.py [--quick] [--clients C]
                                                       [--seconds S] [--rounds R]
                                                       [--json [FILE]]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as C
import httpx

K = 5
NAMES = ("alpha", "beta", "gamma")


# ----- data --------------------------------------------------------------------------------


def build(root: Path, documents: Sequence[Any]) -> dict[str, Any]:
    """One index, copied into one folder per collection; the collections files."""
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.indexing import update_index

    settings = Settings()
    embedder = C.service_embedder(settings)
    first = root / "indexes" / NAMES[0]
    stats = update_index(
        documents, index_dir=first, embedder=embedder, settings=chunk_settings(settings)
    )
    for name in NAMES[1:]:
        shutil.copytree(first, root / "indexes" / name, symlinks=True)
    corpus = root / "corpus"  # the collections need one; nothing writes to it here
    corpus.mkdir()
    for count in (1, 3):
        lines = ["collections:"]
        for name in NAMES[:count]:
            lines += [
                f"  {name}:",
                f"    corpus: {corpus}",
                f"    index: {root / 'indexes' / name}",
            ]
        (root / f"collections-{count}.yaml").write_text("\n".join(lines) + "\n")
    return {"chunks": stats.chunks, "index_bytes": folder_bytes(first)}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ----- servers -----------------------------------------------------------------------------


@dataclass
class Server:
    label: str
    url: str
    pid: int
    paths: list[str]  # the ask path of each client slot, spread over the collections


@contextlib.contextmanager
def serving(label: str, args: Sequence[str], log: Path, paths: list[str]) -> Iterator[Server]:
    """A real `qa serve ARGS` on loopback, once /health answers; stopped however we end."""
    with C.qa_serve(args, log, timeout=300) as (url, pid):
        yield Server(label, url, pid, paths)


def memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of a process, in bytes."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0]) * 1024
    return out


# ----- load --------------------------------------------------------------------------------


@dataclass
class Round:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def closed_loop(
    server: Server, questions: Sequence[str], clients: int, seconds: float
) -> Round:
    """`clients` clients, each asking its collection the questions in order, for `seconds`."""
    result = Round()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as http:
        started = time.perf_counter()
        deadline = started + seconds

        async def client(slot: int) -> None:
            path = server.paths[slot % len(server.paths)]
            i = slot  # clients start at different questions, in the same order on every server
            while time.perf_counter() < deadline:
                body = {"question": questions[i % len(questions)], "k": K}
                i += clients
                t0 = time.perf_counter()
                try:
                    r = await http.post(path, json=body)
                except httpx.HTTPError as exc:
                    result.errors.append(type(exc).__name__)
                    continue
                if r.status_code == 200:
                    result.latencies.append(time.perf_counter() - t0)
                else:
                    result.errors.append(f"HTTP {r.status_code}")

        await asyncio.gather(*(client(slot) for slot in range(clients)))
        result.seconds = time.perf_counter() - started
    return result


def warm_up(server: Server, questions: Sequence[str], clients: int) -> None:
    warm = asyncio.run(closed_loop(server, questions, clients, 1.0))
    if warm.errors or not warm.latencies:
        C.fail(f"{server.label}: warm-up failed: {warm.errors[:5]}")


# ----- the run -----------------------------------------------------------------------------


def measure(args: Any, root: Path, questions: Sequence[str]) -> dict[str, Any]:
    one = [f"/collections/{NAMES[0]}/ask"]
    three = [f"/collections/{n}/ask" for n in NAMES]
    configs = [
        ("one", ["--collections", str(root / "collections-1.yaml")], one),
        ("three", ["--collections", str(root / "collections-3.yaml")], three),
    ]
    if not args.quick:
        configs.append(("plain", ["--index", str(root / "indexes" / NAMES[0])], ["/ask"]))
    rounds: dict[str, list[Round]] = {label: [] for label, _, _ in configs}
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(serving(label, a, root / f"serve-{label}.log", paths))
            for label, a, paths in configs
        ]
        for server in servers:
            warm_up(server, questions, args.clients)
        idle = {s.label: memory(s.pid) for s in servers}
        for r in range(args.rounds):
            turn = servers[r % len(servers) :] + servers[: r % len(servers)]
            for server in turn:
                result = asyncio.run(closed_loop(server, questions, args.clients, args.seconds))
                rounds[server.label].append(result)
                C.note(
                    f"round {r + 1}/{args.rounds} {server.label}: {result.rps:.1f} req/s, "
                    f"{len(result.errors)} errors"
                )
        loaded = {s.label: memory(s.pid) for s in servers}
    return {"rounds": rounds, "memory": {"after_warm_up": idle, "after_load": loaded}}


def summary(rounds: list[Round]) -> dict[str, Any]:
    latencies = [x for r in rounds for x in r.latencies]
    return {
        "ok": len(latencies),
        "errors": [e for r in rounds for e in r.errors],
        "p50_ms": C.median([C.percentile(r.latencies, 50) * 1000 for r in rounds if r.latencies]),
        "p95_ms": C.median([C.percentile(r.latencies, 95) * 1000 for r in rounds if r.latencies]),
        "rps": C.median([r.rps for r in rounds]),
    }


def report(args: Any, info: dict[str, Any], data: dict[str, Any], built: dict[str, Any]) -> dict:
    cores = C.cores_label(info)
    rows = {label: summary(rs) for label, rs in data["rounds"].items()}
    base = rows["one"]
    C.emit(
        C.table(
            f"POST /ask, {args.clients} clients, medians of {args.rounds} rounds of "
            f"{args.seconds:g} s, {cores}",
            [
                "server",
                "collections",
                "ok",
                "errors",
                "p50 ms",
                "p95 ms",
                "req/s",
                "p50/one",
                "req/s / one",
            ],
            [
                [
                    label,
                    {"one": 1, "three": 3}.get(label, "none"),
                    r["ok"],
                    len(r["errors"]),
                    r["p50_ms"],
                    r["p95_ms"],
                    r["rps"],
                    C.ratio(r["p50_ms"], base["p50_ms"]),
                    C.ratio(r["rps"], base["rps"]),
                ]
                for label, r in rows.items()
            ],
        )  # fmt: skip
    )
    p50 = C.ratio(rows["three"]["p50_ms"], base["p50_ms"])
    rps = C.ratio(rows["three"]["rps"], base["rps"])
    within = abs(p50 - 1) <= 0.10 and abs(rps - 1) <= 0.10
    C.emit(f"three/one: p50 x{p50:.3f}, req/s x{rps:.3f}: within 10%: {C.fmt(within)}")
    mem = data["memory"]
    extra = {when: per_extra_collection(m) for when, m in mem.items()}
    C.emit()
    C.emit(memory_table(mem, extra, cores))
    inproc = data["in_process"]
    C.emit(
        f"in process, one more collection: {C.human_bytes(inproc['median_bytes'])} of resident "
        f"memory (median of {len(inproc['steps_bytes'])} loads); its index on disk: "
        f"{C.human_bytes(built['index_bytes'])} ({built['chunks']:,} chunks); a whole "
        f"server, model included: {C.human_bytes(mem['after_load']['one'].get('VmRSS'))}"
    )
    return {
        "servers": rows,
        "ratios": {"p50_three_over_one": p50, "rps_three_over_one": rps, "within_10pct": within},
        "memory": mem,
        "memory_per_extra_collection": extra,
        "in_process_per_collection": data["in_process"],
        "index_bytes": built["index_bytes"],
        "chunks": built["chunks"],
    }


def per_extra_collection(mem: dict[str, dict[str, int]]) -> dict[str, float]:
    """(three - one) / 2 for each of VmRSS, RssAnon, RssFile."""
    return {k: (mem["three"].get(k, 0) - mem["one"].get(k, 0)) / 2 for k in mem["one"]}


def memory_table(
    mem: dict[str, dict[str, dict[str, int]]], extra: dict[str, dict[str, float]], cores: str
) -> str:
    kinds = ("VmRSS", "RssAnon", "RssFile")
    rows = []
    for when, servers in mem.items():
        when_text = when.replace("_", " ")
        for label, m in servers.items():
            rows.append([f"{label}, {when_text}", *(C.human_bytes(m.get(k)) for k in kinds)])
        rows.append(
            [
                f"each extra collection, {when_text}",
                *(C.human_bytes(extra[when].get(k)) for k in kinds),
            ]
        )
    return C.table(f"Resident memory of each server, {cores}", ["server", *kinds], rows)


def collection_increment(index_dir: Path, loads: int = 5) -> dict[str, Any]:
    """The resident set one more loaded collection adds, with the model already loaded."""
    import gc

    from qa.config import Settings
    from qa.service import QAService

    settings = Settings(index_dir=index_dir)
    embedder = C.service_embedder(settings)
    held = [QAService.from_settings(settings, embedder)]
    held[0].ask("warm up")  # the first question's lazy state, once
    steps = []
    for _ in range(loads):
        gc.collect()
        before = C.rss_bytes()
        held.append(QAService.from_settings(settings, embedder))
        held[-1].ask("warm up")
        gc.collect()
        steps.append(C.rss_bytes() - before)
    return {"median_bytes": C.median(steps), "steps_bytes": steps}


def main(argv: Sequence[str] | None = None) -> int:
    p = C.parser("bench_collections", __doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--clients", type=int, default=None, help="concurrent clients (32)")
    p.add_argument("--seconds", type=float, default=None, help="seconds a round (10)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per server (3)")
    args = p.parse_args(argv)
    args.clients = args.clients or (8 if args.quick else 32)
    args.seconds = args.seconds or (2.0 if args.quick else 10.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    # As `qa serve` runs: OpenMP threads sleep between requests (this client's too).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    info = C.machine_info()
    C.print_header("Collections under load", info, quick=args.quick)
    documents, questions, label = C.all_questions(args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-collections-") as tmp:
        root = Path(tmp)
        built = build(root, documents)
        C.emit(f"data: {label}; {built['chunks']:,} chunks per collection")
        C.emit()
        data = measure(args, root, questions)
        data["in_process"] = collection_increment(root / "indexes" / NAMES[0])
        results = report(args, info, data, built)
    C.save_json(
        C.json_path(args.json, "bench_collections"),
        {"benchmark": "bench_collections", "quick": args.quick, "machine": info,
         "clients": args.clients, "seconds": args.seconds, "rounds": args.rounds, **results},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
