"""`qa eval` itself: run a question set or a suite and print its tables (and write the
numbers as JSON). The CLI parses the arguments and hands them here, with the settings,
the model factory and how to show progress."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from qa.answer.selection import AnswerSettings
from qa.config import Settings
from qa.errors import QAError, UsageError
from qa.eval.report import format_table
from qa.eval.runner import METHODS, format_by_format, format_trade_off, plot_recall, run_eval
from qa.eval.suite import format_suite, is_suite, run_suite
from qa.search.embedding import Embedder, Progress

#: Makes a progress callback for a label ("embedding squad"); None shows no progress.
ProgressFactory = Callable[[str], Progress] | None


def run_eval_command(
    args: argparse.Namespace,
    settings: Settings,
    embedder_factory: Callable[[Settings], Embedder],
    progress: ProgressFactory,
) -> int:
    """`qa eval DATASET`: a table per method, per format where the questions say one,
    and the abstention trade-off; a suite file instead gives a table per corpus."""
    if not args.dataset.is_file():
        raise UsageError(f"no question set at {args.dataset}: give a SQuAD 2.0 JSON or JSONL file")
    methods = METHODS if args.compare else (settings.retrieval,)
    if is_suite(args.dataset):
        return _eval_suite(args, settings, methods, embedder_factory(settings), progress)
    try:
        results = run_eval(
            args.dataset,
            settings=settings,
            methods=methods,
            k=args.k,
            limit=args.limit,
            split=args.split,
            progress=None if progress is None else progress("embedding"),
            embedder=embedder_factory(settings),
        )
    except ValueError as exc:  # the loaders say which line is wrong and how
        raise QAError(f"cannot read {args.dataset}: {exc}") from exc
    print(format_table({r.method: r.report for r in results}))
    print()
    if by_format := format_by_format(results[-1]):
        print(by_format)
        print()
    print(format_trade_off(results[-1], threshold=AnswerSettings().calibration.threshold))
    if args.json:
        payload = {
            "dataset": str(args.dataset),
            "k": args.k,
            "split": args.split,
            "methods": {r.method: r.report.to_dict() for r in results},
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        plot_recall(results, args.plot, k_max=args.k)
    return 0


def _eval_suite(
    args: argparse.Namespace,
    settings: Settings,
    methods: Sequence[Any],
    embedder: Embedder,
    progress: ProgressFactory,
) -> int:
    """`qa eval SUITE.json`: every corpus of the suite, a table each, and the macro average."""
    try:
        result = run_suite(
            args.dataset,
            settings=settings,
            methods=methods,
            embedder=embedder,
            split=args.split,
            k=args.k,
            progress=_labelled(progress),
        )
    except ValueError as exc:
        raise QAError(f"cannot run the suite {args.dataset}: {exc}") from exc
    print(format_suite(result, methods))
    if args.json:
        run = {"suite": str(args.dataset), "k": args.k, "split": args.split}
        payload = result.to_dict(methods, **run)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


def _labelled(progress: ProgressFactory) -> Callable[[str], Progress | None] | None:
    """Progress per corpus of a suite, each labelled with the corpus's name."""
    if progress is None:
        return None
    factory = progress
    return lambda name: factory(f"embedding {name}")
