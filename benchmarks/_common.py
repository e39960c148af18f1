"""Shared helpers of the benchmark scripts: machine header, tables, statistics, JSON.

The scripts import this module as `_common` (Python puts the script's own folder
first on sys.path), so they run as `.venv/bin/python benchmarks/<name>.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

# One percentile for the whole project (linear interpolation, like numpy's default).
from qa.eval.report import percentile as percentile

REPO = Path(__file__).resolve().parents[1]
# Shared data lives next to the repository, never at a fixed machine path.
SHARED = REPO.parent / "shared"
SQUAD = SHARED / "datasets" / "squad2-dev-3articles.json"
SEED_CORPUS = REPO / "corpus"
SEED_QUESTIONS = REPO / "eval" / "seed-questions.jsonl"
RESULTS = REPO / "benchmarks" / "results"

_FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


# ----- command line ------------------------------------------------------------------------


def parser(name: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"benchmarks/{name}.py", description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: seconds, for smoke tests")
    p.add_argument(
        "--json",
        nargs="?",
        const="auto",
        metavar="FILE",
        help=f"also save the results as JSON (no FILE: benchmarks/results/{name}-<date>.json)",
    )
    return p


def json_path(arg: str | None, name: str) -> Path | None:
    if arg is None:
        return None
    if arg == "auto":
        return RESULTS / f"{name}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    return Path(arg)


def save_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    print(f"\nresults saved to {path}")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


# ----- the machine -------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in _FLAGS_OF_INTEREST if f in have]
    except OSError:
        pass
    return []


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(*, torch_threads: bool = True) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "os_cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "packages": {
            p: _version(p) for p in ("torch", "sentence-transformers", "faiss-cpu", "numpy")
        },
    }
    info["env"] = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")
        if k in os.environ
    }
    if torch_threads:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    try:
        import faiss

        info["faiss_threads"] = faiss.omp_get_max_threads()
    except ImportError:
        pass
    return info


def print_header(title: str, info: dict[str, Any], *, quick: bool) -> None:
    threads = [f"os.cpu_count()={info['os_cpu_count']}", f"usable cores={info['usable_cores']}"]
    if "torch_threads" in info:
        threads.append(f"torch threads={info['torch_threads']}")
    if "faiss_threads" in info:
        threads.append(f"faiss threads={info['faiss_threads']}")
    load = info["load_average_1m"]
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    print(f"# {title}{'  [--quick: tiny sizes, numbers not meaningful]' if quick else ''}")
    print(f"date:    {info['date']}")
    print(f"cpu:     {info['cpu_model']} ({', '.join(info['cpu_flags']) or 'no AVX flags seen'})")
    print(f"cores:   {', '.join(threads)}")
    print(f"load:    {load:.2f} (1-minute load average at start)" if load is not None else "")
    print(f"python:  {info['python']}; {packages}")
    if info["env"]:
        print(f"env:     {' '.join(f'{k}={v}' for k, v in info['env'].items())}")
    if load is not None and load > 0.5 * info["usable_cores"]:
        print(
            f"warning: the machine was busy at start (load {load:.2f} on "
            f"{info['usable_cores']} cores): other processes compete for the cores, and "
            "OpenMP threads that spin-wait (the default) slow multi-threaded torch and FAISS "
            "down badly when one of them is descheduled; read the side-by-side ratios, not "
            "the absolute numbers, or see benchmarks/README.md (OMP_WAIT_POLICY=PASSIVE)"
        )
    print()


def cores_label(info: dict[str, Any]) -> str:
    label = f"{info['usable_cores']} cores"
    if "torch_threads" in info:
        label += f", {info['torch_threads']} torch threads"
    return label


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc), 0 where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def peak_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ----- statistics and timing ---------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# ----- tables ------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def human_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table: first column left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers]] + [
        [c if isinstance(c, str) else fmt(c) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [f"== {title} ==", line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def emit(text: str = "") -> None:
    print(text, flush=True)


def note(text: str) -> None:
    print(f"note: {text}", flush=True)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


# ----- the data ----------------------------------------------------------------------------


def all_questions(quick: bool) -> tuple[list[Any], list[str], str]:
    """(documents, questions, label): the SQuAD 2.0 dev slice and all its questions, or
    the seed corpus and seed questions (with --quick, or when the slice is not next to
    the repository); the questions shuffled, the same order every run."""
    from qa.eval.questionsets import load_jsonl, load_squad
    from qa.ingest.corpus import scan_corpus

    if quick or not SQUAD.is_file():
        if not quick:
            note(f"{SQUAD.name} not found next to the repository: seed corpus instead")
        documents = scan_corpus(SEED_CORPUS).documents
        questions = [q.question for q in load_jsonl(SEED_QUESTIONS)]
        label = f"seed corpus ({len(documents)} documents), seed questions"
    else:
        documents, squad = load_squad(SQUAD)
        questions = [q.question for q in squad]
        label = f"SQuAD 2.0 dev slice ({len(documents)} documents), its questions"
    random.Random(0).shuffle(questions)
    return documents, questions, label


def sampled_questions(quick: bool, n: int) -> tuple[list[Any], list[str], str]:
    """(documents, questions, label): the SQuAD 2.0 dev slice plus the seed corpus and a
    seeded sample of n SQuAD questions, or the seed corpus and (at most n) seed questions
    (with --quick, or when the slice is not next to the repository)."""
    from qa.eval.questionsets import load_jsonl, load_squad
    from qa.ingest.corpus import scan_corpus

    seed_docs = scan_corpus(SEED_CORPUS).documents
    rng = random.Random(0)
    if quick or not SQUAD.is_file():
        if not quick:
            note(f"{SQUAD.name} not found next to the repository: seed set only")
        questions = [q.question for q in load_jsonl(SEED_QUESTIONS)]
        picked = rng.sample(questions, min(n, len(questions)))
        return seed_docs, picked, f"seed set ({len(seed_docs)} documents)"
    squad_docs, squad_questions = load_squad(SQUAD)
    picked = rng.sample([q.question for q in squad_questions], n)
    label = (
        f"SQuAD 2.0 dev slice + seed corpus ({len(squad_docs) + len(seed_docs)} documents); "
        f"{n} SQuAD questions, seeded sample (about half unanswerable)"
    )
    return [*squad_docs, *seed_docs], picked, label


@dataclass
class SequentialResults:
    """What a sequential latency run over a question set records, whatever paths it
    compares: the set's label, the index's chunks, the model's precision, the questions
    asked, each path's wall times and whether the run stopped early."""

    label: str = ""
    chunks: int = 0
    precision: str = ""
    questions: list[str] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)
    stopped: bool = False


# ----- the model, as the service loads it ---------------------------------------------------


def service_embedder(settings: Any) -> Any:
    """qa's embedder exactly as `qa index` / `qa serve` build it from the settings."""
    from qa.search.embedding import SentenceTransformerEmbedder

    precision = getattr(settings, "precision", None)
    if precision is None:  # a core without the precision setting
        return SentenceTransformerEmbedder(settings.model)
    return SentenceTransformerEmbedder(settings.model, precision=precision)


def embedder_precision(embedder: Any) -> str:
    return str(getattr(embedder, "precision", "fp32"))


def raw_model(precision: str = "fp32") -> Any:
    """The packaged model straight from sentence-transformers, at the given precision."""
    from sentence_transformers import SentenceTransformer

    from qa.search.embedding import packaged_model_dir

    model = SentenceTransformer(str(packaged_model_dir()), device="cpu", local_files_only=True)
    if precision == "bf16":
        import torch

        model.to(torch.bfloat16)
    return model


def raw_encode(model: Any, texts: Sequence[str], batch_size: int = 32) -> Any:
    return model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def qa_serve(
    args: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
    stop_timeout: float = 30,
) -> Iterator[tuple[str, int]]:
    """A real `qa serve ARGS` on loopback: yields (base URL, pid) once /health answers 200,
    and stops it (SIGTERM, then SIGKILL) however the benchmark ends."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "qa", "serve", *args, "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    url = f"http://127.0.0.1:{port}"
    name = " ".join(["qa serve", *args])
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                fail(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                fail(f"{name} did not become ready in {timeout:.0f} s")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def qa_server(
    index_dir: Path,
    log: Path,
    *,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
    stop_timeout: float = 30,
) -> contextlib.AbstractContextManager[tuple[str, int]]:
    """`qa_serve` of one index (`qa serve --index INDEX_DIR EXTRA`)."""
    args = ["--index", str(index_dir), *extra]
    return qa_serve(args, log, env=env, timeout=timeout, stop_timeout=stop_timeout)
