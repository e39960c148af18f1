"""The `qa` command: thin commands over the library.

Exit codes: 0 success, 1 a problem the message explains, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from qa.answer.display import WITHHELD_LABEL as WITHHELD_LABEL  # qa ask's label, for tests
from qa.answer.display import format_result
from qa.config import Settings
from qa.errors import QAError, UsageError

if TYPE_CHECKING:
    from qa.ingest.formats.worker import RemoteReader
    from qa.search.distributed import RayEmbedder
    from qa.search.embedding import Embedder

log = logging.getLogger("qa")

#: Makes the model a command uses (see `main`); the default loads the configured one.
EmbedderFactory = Callable[[Settings], "Embedder"]


def _load_embedder(settings: Settings) -> Embedder:
    from qa.service import load_embedder  # torch loads only for commands that need it

    return load_embedder(settings)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for arg, field in (("corpus", "corpus_dir"), ("index", "index_dir"), ("collections",) * 2):
        value = getattr(args, arg, None)
        if value is not None:
            overrides[field] = value
    return Settings(**overrides)


def _targets(args: argparse.Namespace) -> list[tuple[str | None, Settings]]:
    """What a command works on: the file's collections (`--collections` or QA_COLLECTIONS),
    only `--collection NAME`, or without a file the one corpus."""
    from qa.collections.config import settings_per_collection

    settings = _settings(args)
    if settings.collections and (getattr(args, "corpus", None) or getattr(args, "index", None)):
        raise UsageError(
            "--corpus and --index do not go with a collections file (--collections or "
            "QA_COLLECTIONS): the file names each collection's folders"
        )
    return settings_per_collection(settings, getattr(args, "collection", None), os.environ)


def _collections_options(p: argparse.ArgumentParser, *, one: bool = True) -> None:
    p.add_argument(
        "--collections",
        type=Path,
        metavar="FILE",
        help="collections file (default: $QA_COLLECTIONS)",
    )
    if one:
        p.add_argument("--collection", metavar="NAME", help="only this collection of the file")


class _Progress:
    """Progress on stderr: a live line on a terminal, a line every few seconds otherwise."""

    def __init__(self, label: str, stream: Any = sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        final = done >= total
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        line = f"{self.label}: {done}/{total} ({100 * done // max(total, 1)}%)"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _ray_readers(embedder: RayEmbedder, target: Settings) -> list[RemoteReader]:
    """File readers on Ray actors, as many as embedding replicas: OCR, the slow part of
    reading, runs on the cluster too (each actor bounds its files as `qa index` does).
    index_corpus closes them after the scan, which frees their CPUs for the model."""
    from qa.ingest.corpus import extraction_limits
    from qa.ingest.formats.worker import ActorExtraction, RemoteReader

    limits = extraction_limits(target)
    return [
        RemoteReader(embedder.actor(ActorExtraction, limits=limits), limits=limits)
        for _ in range(embedder.planned_actors())
    ]


def cmd_index(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from qa.ingest.chunking import chunk_settings
    from qa.ingest.corpus import check_corpus_folder, extraction_limits
    from qa.ingest.indexing import index_corpus
    from qa.search.index import index_settings

    targets = _targets(args)
    for _, target in targets:
        check_corpus_folder(target.corpus_dir)
    settings = targets[0][1]
    with ExitStack() as stack:  # shuts down the Ray we started, however indexing ends
        embedder: Embedder
        ray: RayEmbedder | None = None
        if args.ray is None:
            embedder = args.embedder_factory(settings)
        else:
            from qa.search.distributed import RayEmbedder

            embedder = ray = stack.enter_context(
                RayEmbedder(
                    settings.model,
                    address=args.ray,
                    actors=args.ray_actors,
                    precision=settings.precision,
                )
            )
        for name, target in targets:  # one model for every collection
            readers = None if ray is None else _ray_readers(ray, target)
            # The scan logs each skipped file once, as a warning, with its reason.
            stats, scan = index_corpus(
                target.corpus_dir,
                index_dir=target.index_dir,
                embedder=embedder,
                settings=chunk_settings(target),
                limits=extraction_limits(target),
                rebuild=args.rebuild,
                batch_size=target.batch_size,
                progress=None if args.quiet else _Progress("embedding"),
                index_settings=index_settings(target),
                readers=readers,
            )
            print((f"collection {name}: " if name else "") + stats.summary())
            if scan.skipped:
                print(scan.skipped_summary())
    return 0


#: OpenMP threads that sleep between encodes instead of spinning. A server's requests
#: arrive from several threads and processes, and spinning ones took the cores from each
#: other: 32 clients served 1.7x one client's requests/s with the default and 2.5-3.2x
#: with this (benchmarks/bench_ask.py). OMP_WAIT_POLICY=ACTIVE in the environment wins.
SERVE_OMP_WAIT_POLICY = "PASSIVE"


def cmd_serve(args: argparse.Namespace) -> int:
    # Before anything loads an OpenMP runtime (torch's, faiss's): each reads it once.
    os.environ.setdefault("OMP_WAIT_POLICY", SERVE_OMP_WAIT_POLICY)
    import uvicorn

    from qa.errors import IndexNotFoundError
    from qa.search.index import read_manifest
    from qa.service import check_models

    if not 1 <= args.workers <= 64:
        raise UsageError(f"--workers must be between 1 and 64, not {args.workers}")
    for name, settings in _targets(args):  # a bad collections file fails here, naming the entry
        try:
            read_manifest(settings.index_dir)  # fail here, clearly, rather than serve 503s
        except IndexNotFoundError:
            if name is None:
                raise
            raise IndexNotFoundError(
                f"collection {name!r} has no index in {settings.index_dir}: build it with "
                f"`qa index --collections {settings.collections} --collection {name}`"
            ) from None
    check_models(settings)  # and fetch a named model once, not in every worker
    # Worker processes build their app from the environment: hand the settings on.
    if settings.collections is not None:
        os.environ["QA_COLLECTIONS"] = str(settings.collections.resolve())
    else:
        os.environ["QA_INDEX_DIR"] = str(settings.index_dir.resolve())
    uvicorn.run(
        "qa.api:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,  # qa.api.middleware writes one JSON line per request instead
        timeout_graceful_shutdown=30,
        # Several processes: each builds its app with the factory (uvicorn spawns them),
        # loads its own model and maps the same index files; qa.live.watcher keeps them current.
        workers=args.workers,
        # A worker needs seconds to load the model: the 5 s default would fail every
        # SIGHUP rolling restart, and could take a busy starting worker for a hung one.
        timeout_worker_healthcheck=60,
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.service import QAService

    targets = _targets(args)
    if len(targets) > 1:
        names = ", ".join(str(name) for name, _ in targets)
        raise UsageError(f"name the collection to ask with --collection (one of: {names})")
    settings = targets[0][1]
    question = args.question.strip()
    if not question:
        raise UsageError("the question is empty: write some text to ask about")
    if len(question) > settings.max_question_chars:
        raise UsageError(
            f"the question is {len(question)} characters long: shorten it to at most "
            f"{settings.max_question_chars} (QA_MAX_QUESTION_CHARS)"
        )
    if not 1 <= args.k <= 50:
        raise UsageError(f"--k must be between 1 and 50, not {args.k}")
    service = QAService.from_settings(settings, embedder_factory=args.embedder_factory)
    result = service.ask(question, k=args.k)
    if args.json:
        from qa.api.schemas import ask_response

        reply = ask_response(result).model_dump(exclude={"request_id"})
        print(json.dumps(reply, ensure_ascii=False, indent=2))
    else:
        print(format_result(result))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.eval.command import run_eval_command

    if args.export_unhelpful is not None:
        return _export_unhelpful(args)
    if args.dataset is None:
        raise UsageError("give a question set to evaluate (or --export-unhelpful FILE)")
    progress = None if args.quiet else _Progress
    return run_eval_command(args, _settings(args), args.embedder_factory, progress)


def _export_unhelpful(args: argparse.Namespace) -> int:
    from qa.eval.unhelpful import export_unhelpful

    if args.dataset is not None:
        raise UsageError("--export-unhelpful writes a question set: give no dataset with it")
    sources = [(name, target.index_dir) for name, target in _targets(args)]
    print(export_unhelpful(sources, args.export_unhelpful).summary(args.export_unhelpful))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Answers questions from your documents, with exact citations."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _index_parser(sub)
    _serve_parser(sub)
    _ask_parser(sub)
    _eval_parser(sub)
    return parser


Subparsers = Any  # argparse's _SubParsersAction is private


def _index_option(p: argparse.ArgumentParser, help: str | None = None) -> None:
    p.add_argument(
        "--index", type=Path, help=help or "index folder (default: $QA_INDEX_DIR or index/)"
    )


def _index_parser(sub: Subparsers) -> None:
    p = sub.add_parser("index", help="build or update the index from the corpus folder")
    p.add_argument(
        "--corpus", type=Path, help="documents folder (default: $QA_CORPUS_DIR or corpus/)"
    )
    _index_option(p)
    _collections_options(p)
    p.add_argument("--rebuild", action="store_true", help="start over instead of updating")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="read and embed on the Ray cluster at ADDRESS (e.g. auto), or without one on Ray "
        "started here; needs pip install 'qa[ray]'",
    )
    p.add_argument(
        "--ray-actors",
        type=int,
        metavar="N",
        help="model replicas, and as many file readers, on Ray (default: one per CPU)",
    )
    p.set_defaults(func=cmd_index)


def _serve_parser(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API and the chat page")
    _index_option(p)
    _collections_options(p, one=False)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn's log level (default info; trace also logs every connection and ASGI "
        "message)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes, 1-64 (default 1): each loads the model, all share the "
        "memory-mapped index",
    )
    p.set_defaults(func=cmd_serve)


def _ask_parser(sub: Subparsers) -> None:
    p = sub.add_parser("ask", help="ask one question from the command line")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--k", type=int, default=5, help="passages to return, 1-50 (default 5)")
    _index_option(p)
    _collections_options(p)
    p.add_argument("--json", action="store_true", help="print the HTTP API's JSON")
    p.set_defaults(func=cmd_ask)


def _eval_parser(sub: Subparsers) -> None:
    p = sub.add_parser("eval", help="measure retrieval and answers on a question set")
    p.add_argument(
        "dataset",
        type=Path,
        nargs="?",
        help="SQuAD 2.0 JSON (brings its own documents), a suite file (eval/suite.json: "
        "several corpora, a table each and the macro average) or "
        "JSONL of {question, answers} / {question, unanswerable} lines",
    )
    p.add_argument("--compare", action="store_true", help="dense, BM25 and hybrid side by side")
    p.add_argument(
        "--k",
        type=int,
        default=10,
        choices=range(1, 51),
        metavar="K",
        help="passages per question (default 10)",
    )
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument(
        "--split",
        choices=("all", "dev", "test"),
        default="all",
        help="one half of the questions (the half a set names, else by a hash of the id): "
        "dev for tuning, test for reporting (default all)",
    )
    _index_option(p, "index for JSONL sets (default: $QA_INDEX_DIR)")
    p.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    p.add_argument(
        "--export-unhelpful",
        type=Path,
        metavar="FILE",
        help="instead, write the questions marked unhelpful (feedback beside the index, or "
        "each collection's) to FILE as JSONL to review: fill in each 'answers'",
    )
    _collections_options(p)
    p.add_argument(
        "--plot",
        type=Path,
        help="draw recall@k against k and the confidence's reliability diagram to this PNG",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_eval)


def main(
    argv: Sequence[str] | None = None, *, embedder_factory: EmbedderFactory | None = None
) -> int:
    """Run one `qa` command. `embedder_factory` makes the model (tests pass a small one)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.embedder_factory = embedder_factory or _load_embedder
    logging.basicConfig(level=logging.WARNING, format="qa: %(levelname)s: %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except QAError as exc:
        print(f"qa: error: {exc.message}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        problems = "; ".join(
            f"QA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            if e["loc"]
            else str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        print(f"qa: error: invalid setting: {problems}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a read-only folder: the index is left as it was
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"qa: error: {exc.strerror or exc}{where}: the index was not changed; "
            "fix that and run the command again",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
