"""What the optional local models cost: QAService.ask p50 without models, with a reranker
(QA_RERANKER), with a reader (QA_READER), and with both, side by side in one run.

No real weights can be fetched here, so the models are of the real shapes with random
weights (latency depends on the shape, not on the weights), saved with save_pretrained
and loaded as the service loads any QA_RERANKER / QA_READER folder:

  reranker   the shape of cross-encoder/ms-marco-MiniLM-L-6-v2: the packaged MiniLM's
             config (6 layers, hidden 384) with one relevance label; it scores
             QA_RERANK_CANDIDATES (20) candidates of each question
  reader     the shape of a MiniLM-L12-H384 SQuAD 2.0 reader: the same config with 12
             layers and a start/end head; it reads QA_READER_PASSAGES (3) passages in
             windows of QA_READER_MAX_TOKENS (384) tokens

Both use the packaged MiniLM's tokenizer. One index is built into a temporary folder;
the four services share it and the embedder, and each question is asked of all four
in an order that rotates from question to question.

Run:  .venv/bin/python benchmarks/bench_models.py [--quick] [--precision P] [--json [FILE]]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as C

K = 5
CONFIGS = ("none", "reranker", "reader", "both")


@dataclass
class Results(C.SequentialResults):
    shapes: dict[str, str] = field(default_factory=dict)


def save_models(root: Path, quick: bool) -> dict[str, str]:
    """Random-weight models of the real shapes (fewer layers with --quick), saved as a
    user's QA_RERANKER and QA_READER folders would be."""
    import torch
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForQuestionAnswering,
        BertForSequenceClassification,
    )

    from qa.search.embedding import packaged_model_dir

    packaged = str(packaged_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(packaged, local_files_only=True)
    shapes = {}
    for name, cls, layers, labels in (
        ("reranker", BertForSequenceClassification, 1 if quick else 6, 1),
        ("reader", BertForQuestionAnswering, 2 if quick else 12, 2),
    ):
        config = BertConfig.from_pretrained(packaged, local_files_only=True)
        config.num_hidden_layers, config.num_labels = layers, labels
        config.architectures = [cls.__name__]
        torch.manual_seed(0)
        cls(config).save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        shapes[name] = f"{layers} layers, hidden {config.hidden_size}, {cls.__name__}"
    return shapes


def services(settings: Any, embedder: Any, root: Path) -> dict[str, Any]:
    from qa.answer.reader import ExtractiveReader, reader_settings
    from qa.search.rerank import CrossEncoderReranker, rerank_settings
    from qa.search.retrieval import retrieval_settings
    from qa.service import QAService

    base = QAService.from_settings(settings, embedder)
    reranker = CrossEncoderReranker(root / "reranker", rerank_settings(settings))
    reader = ExtractiveReader(root / "reader", reader_settings(settings))

    def make(**models: Any) -> Any:
        return QAService(
            embedder=embedder, index=base.index, retrieval=retrieval_settings(settings), **models
        )

    return {
        "none": base,
        "reranker": make(reranker=reranker),
        "reader": make(reader=reader),
        "both": make(reranker=reranker, reader=reader),
    }


def sequential(
    questions: Sequence[str], steps: dict[str, Callable[[str], Any]], rounds: int, limit: float
) -> tuple[dict[str, list[float]], bool]:
    """Every configuration once per question, rounds times, the order rotating; stops
    after a whole question once `limit` seconds have passed."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    names, turn = list(steps), 0
    deadline = time.perf_counter() + limit
    for _ in range(rounds):
        for q in questions:
            if time.perf_counter() > deadline:
                return times, True
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                t0 = time.perf_counter()
                steps[name](q)
                times[name].append(time.perf_counter() - t0)
            turn += 1
    return times, False


def measure(args: Any, res: Results) -> None:
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.indexing import update_index

    n, rounds, limit = (3, 1, 60.0) if args.quick else (args.questions, args.rounds, args.limit)
    documents, res.questions, res.label = C.sampled_questions(args.quick, n)
    with tempfile.TemporaryDirectory(prefix="qa-bench-models-") as tmp:
        root = Path(tmp)
        settings = Settings(index_dir=root / "index", precision=args.precision)
        embedder = C.service_embedder(settings)
        res.precision = C.embedder_precision(embedder)
        stats = update_index(
            documents,
            index_dir=settings.index_dir,
            embedder=embedder,
            settings=chunk_settings(settings),
        )
        res.chunks = stats.chunks
        res.shapes = save_models(root, args.quick)
        steps = {
            name: (lambda q, s=svc: s.ask(q, k=K))
            for name, svc in services(settings, embedder, root).items()
        }
        for step in steps.values():  # warm-up
            step(res.questions[0])
        res.times, res.stopped = sequential(res.questions, steps, rounds, limit)


def p50_ms(res: Results) -> dict[str, float]:
    return {k: C.median(v) * 1e3 for k, v in res.times.items()}


def print_tables(res: Results, cores: str) -> None:
    from qa.config import Settings

    s = Settings()
    what = {
        "none": "retrieval + answer selection, no optional model",
        "reranker": f"+ cross-encoder ({res.shapes['reranker']}) on "
        f"{s.rerank_candidates} candidates",
        "reader": f"+ reader ({res.shapes['reader']}) on {s.reader_passages} passages",
        "both": "+ both",
    }
    base = C.median(res.times["none"]) * 1e3
    rows = []
    for name in CONFIGS:
        ms = [v * 1e3 for v in res.times[name]]
        row = [name, what[name], len(ms), C.median(ms), C.percentile(ms, 95), min(ms)]
        rows.append([*row, C.ratio(C.median(ms), base)])
    title = (
        f"QAService.ask(k={K}) with the optional models, ms; random weights of the real "
        f"shapes, {res.precision} ({cores})"
    )
    C.emit(C.table(title, ["models", "what", "n", "p50", "p95", "min", "p50 / none p50"], rows))
    C.emit(f"corpus: {res.label}, {res.chunks} chunks, {len(res.questions)} questions")
    if res.stopped:
        C.note("the run stopped at its time limit before every round was done")
    med = p50_ms(res)
    C.emit(
        "ratios of p50s: "
        + ", ".join(f"{n}/none {C.ratio(med[n], med['none']):.2f}" for n in CONFIGS[1:])
        + f"; added ms: reranker {med['reranker'] - med['none']:.0f}, "
        f"reader {med['reader'] - med['none']:.0f}, both {med['both'] - med['none']:.0f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = C.parser("bench_models", __doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto")
    p.add_argument("--questions", type=int, default=30, help="questions (default 30)")
    p.add_argument("--rounds", type=int, default=2, help="rounds over the questions")
    p.add_argument("--limit", type=float, default=300.0, help="seconds for the timed rounds")
    args = p.parse_args(argv)
    info = C.machine_info()
    C.print_header("bench_models: the cost of the optional models", info, quick=args.quick)
    res = Results()
    measure(args, res)
    print_tables(res, C.cores_label(info))
    med = p50_ms(res)
    C.save_json(
        C.json_path(args.json, "bench_models"),
        {
            "benchmark": "bench_models",
            "quick": args.quick,
            "machine": info,
            "weights": "random, of the real shapes",
            "setup": {"label": res.label, "chunks": res.chunks, "k": K, "precision": res.precision},
            "shapes": res.shapes,
            "seconds": res.times,
            "p50_ms": med,
            "p95_ms": {k: C.percentile(v, 95) * 1e3 for k, v in res.times.items()},
            "ratios": {f"{n}_over_none": C.ratio(med[n], med["none"]) for n in CONFIGS[1:]},
        },
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
