"""Indexing throughput: the qa pipeline against raw SentenceTransformer.encode, and the
compute limit of this machine.

Measured side by side in one process, interleaved round by round (the machine is
shared and noisy, so only ratios and medians taken together mean much):

  raw        SentenceTransformer.encode of the very texts the pipeline embeds (each chunk's
             heading context and prose, qa.search.fields.encoder_text),
             one call, same batch size, loaded straight from the packaged model folder
             at the precision the service uses (QA_PRECISION: bf16 on CPUs with native
             bf16, fp32 elsewhere)
  raw-fp32   the same in fp32, when the service uses another precision
  raw-text   SentenceTransformer.encode of the corpus text itself, each token once, cut
             at sentence boundaries into pieces of at most one chunk stride (max tokens -
             overlap): about as many pieces as there are chunks
  embedder   qa's SentenceTransformerEmbedder.encode of the chunk texts (its wrapper)
  chunking   qa.ingest.chunking.chunk_text of every document with the model's token counter
  pipeline   qa.ingest.indexing.build_index: chunk + embed + FAISS (+ BM25) index, from Documents;
             it encodes every chunk's own text, so overlapped text twice

"Corpus text indexed per second" divides the corpus text's own tokens (each once) by
each variant's time: the pipeline against raw-text is qa index's throughput per unit
of the user's text against the raw model's at the same precision.

Compute limit: matrix-multiply FLOP/s measured here (torch, the same thread count as
encoding; fp32 through the default BLAS and through oneDNN, and bf16), against the
model's FLOPs for the tokens it actually read:

  FLOPs of one sequence of n tokens (with [CLS] and [SEP]) =
      2 * P * n                      every weight of every encoder Linear layer is one
                                     multiply-add per token (P = 10.6M for MiniLM-L6:
                                     per layer 4*384*384 + 2*384*1536)
    + layers * 4 * n^2 * hidden      attention: Q.K^T and weights.V, 2*n^2*hidden each
  Embedding lookups, layer norms, GELU, softmax and pooling are left out (< 2 %).
  "useful" counts real tokens only; "padded" estimates what the batches really
  computed (sentence-transformers sorts by text length and pads each batch of 32 to
  its longest sequence). Each variant is compared with the peak of its precision.

Run:  .venv/bin/python benchmarks/bench_index.py [--quick] [--rounds N] [--threads N]
                                                 [--json [FILE]]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import _common as C
import numpy as np


def load_documents(quick: bool) -> tuple[list[Any], str]:
    from qa.eval.questionsets import load_squad
    from qa.ingest.corpus import scan_corpus

    seed = scan_corpus(C.SEED_CORPUS).documents
    if quick:
        return seed, f"seed corpus ({len(seed)} documents)"
    if not C.SQUAD.is_file():
        C.note(f"{C.SQUAD.name} not found next to the repository: seed corpus only")
        return seed, f"seed corpus ({len(seed)} documents)"
    squad, _ = load_squad(C.SQUAD)
    label = f"SQuAD 2.0 dev slice ({len(squad)} articles) + seed corpus ({len(seed)} documents)"
    return [*squad, *seed], label


# ----- the model's arithmetic --------------------------------------------------------------


def model_shape(st_model: Any) -> dict[str, int]:
    """Layers, hidden size and the weights of the encoder's Linear layers (P)."""
    auto = st_model[0].auto_model
    config = auto.config
    p_linear = sum(
        int(p.numel())
        for name, p in auto.named_parameters()
        if p.dim() == 2 and "encoder." in name and name.endswith(".weight")
    )
    return {
        "layers": int(config.num_hidden_layers),
        "hidden": int(config.hidden_size),
        "intermediate": int(config.intermediate_size),
        "params_total": int(sum(p.numel() for p in auto.parameters())),
        "params_linear": p_linear,
    }


def sequence_flops(n: np.ndarray, shape: dict[str, int]) -> float:
    n = n.astype(np.float64)
    return float(
        np.sum(2.0 * shape["params_linear"] * n + shape["layers"] * 4.0 * n * n * shape["hidden"])
    )


def padded_lengths(texts: Sequence[str], seq_lens: np.ndarray, batch_size: int) -> np.ndarray:
    """Per text, the padded length of its batch, as sentence-transformers forms batches."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.empty_like(seq_lens)
    for lo in range(0, len(order), batch_size):
        rows = order[lo : lo + batch_size]
        out[rows] = seq_lens[rows].max()
    return out


def matmul_kernels(ff_rows: int, shape: dict[str, int]) -> dict[str, tuple[float, Any]]:
    """name -> (FLOPs per call, call): the matrix multiplies worth knowing on this CPU."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(1024, 1024, generator=gen)
    b = torch.randn(1024, 1024, generator=gen)
    x = torch.randn(ff_rows, shape["hidden"], generator=gen)
    w = torch.randn(shape["hidden"], shape["intermediate"], generator=gen)
    cube = 2.0 * 1024**3
    kernels: dict[str, tuple[float, Any]] = {
        "fp32 matmul 1024^3 (default BLAS: the path encode takes)": (cube, lambda: a @ b),
        f"fp32 matmul {ff_rows}x{shape['hidden']}x{shape['intermediate']} (feed-forward shape)": (
            2.0 * ff_rows * shape["hidden"] * shape["intermediate"],
            lambda: x @ w,
        ),
    }
    try:  # oneDNN's own fp32 kernel, often faster than the default BLAS on AVX-512
        from torch.utils import mkldnn

        linear = torch.nn.Linear(1024, 1024, bias=False).eval()
        dnn_linear = mkldnn.to_mkldnn(linear)
        a_dnn = a.to_mkldnn()
        with torch.no_grad():
            dnn_linear(a_dnn)
        kernels["fp32 oneDNN linear 1024^3"] = (cube, lambda: dnn_linear(a_dnn))
    except Exception as exc:  # a torch build without oneDNN
        C.note(f"oneDNN fp32 kernel not measured: {exc}")
    a16, b16 = a.to(torch.bfloat16), b.to(torch.bfloat16)
    kernels["bf16 matmul 1024^3"] = (cube, lambda: a16 @ b16)
    return kernels


def matmul_rates(
    kernels: dict[str, tuple[float, Any]], *, seconds: float, threads: int
) -> dict[str, list[float]]:
    """FLOP/s of each kernel, measured round-robin for about `seconds` in all."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    rates: dict[str, list[float]] = {name: [] for name in kernels}
    try:
        with torch.no_grad():
            for _, call in kernels.values():
                for _ in range(3):
                    call()
            deadline = time.perf_counter() + seconds
            for rep in range(200):
                if rep >= 5 and time.perf_counter() > deadline:
                    break
                for name, (flops, call) in kernels.items():
                    t0 = time.perf_counter()
                    call()
                    rates[name].append(flops / (time.perf_counter() - t0))
    finally:
        torch.set_num_threads(before)
    return rates


# ----- the measurements --------------------------------------------------------------------


@dataclass
class Setup:
    """What every step encodes, and with what."""

    args: Any
    settings: Any
    chunking: Any
    batch: int
    embedder: Any
    precision: str
    models: dict[str, Any]
    documents: list[Any]
    label: str
    stats: Any = None
    texts: list[str] = field(default_factory=list)  # the chunk texts, overlap and all
    pieces: list[str] = field(default_factory=list)  # the corpus text once, stride-long
    seq_lens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    piece_lens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def tokens(self) -> int:
        """Tokens the model reads for the chunk texts, [CLS] and [SEP] included."""
        return int(self.seq_lens.sum())

    @property
    def text_tokens(self) -> int:
        """Tokens of the corpus text itself, each once (no special tokens)."""
        return int(self.piece_lens.sum()) - 2 * len(self.piece_lens)


def parse_args(argv: Sequence[str] | None) -> Any:
    ap = C.parser("bench_index", __doc__.splitlines()[0])
    ap.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds (default 3; quick 1)"
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's own)"
    )
    args = ap.parse_args(argv)
    if args.quick and not args.threads:
        args.threads = 1  # quick mode: robust on a busy shared machine
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def load_setup(args: Any) -> Setup:
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings

    settings = Settings()
    embedder = C.service_embedder(settings)
    precision = C.embedder_precision(embedder)
    models = {precision: C.raw_model(precision)}
    if precision != "fp32":  # the fp32 baseline too, to see what the precision buys
        models["fp32"] = C.raw_model("fp32")
    documents, label = load_documents(args.quick)
    return Setup(
        args,
        settings,
        chunk_settings(settings),
        settings.batch_size,
        embedder,
        precision,
        models,
        documents,
        label,
    )


def cut_texts(setup: Setup) -> None:
    """The chunk texts the pipeline embeds, from one pipeline run (also a warm-up), and
    the corpus text with each token once, in stride-long pieces at sentence boundaries."""
    from qa.ingest.chunking import ChunkSettings, chunk_text
    from qa.ingest.indexing import build_index
    from qa.search.fields import encoder_text

    e, chunking = setup.embedder, setup.chunking
    index, setup.stats = build_index(
        setup.documents, embedder=e, settings=chunking, batch_size=setup.batch
    )
    # What the pipeline's encoder reads: each chunk's heading context, then its prose.
    setup.texts = [encoder_text(index.documents[c.doc_id], c)[0] for c in index.chunks]
    stride = ChunkSettings(chunking.max_tokens - chunking.overlap_tokens, overlap_tokens=0)
    setup.pieces = [
        c.text
        for d in setup.documents
        for c in chunk_text(d.doc_id, d.text, count=e.count_tokens, settings=stride)
    ]
    setup.seq_lens = _seq_lens(setup, setup.texts)
    setup.piece_lens = _seq_lens(setup, setup.pieces)


def _seq_lens(setup: Setup, texts: Sequence[str]) -> np.ndarray:
    max_seq = int(setup.models[setup.precision].max_seq_length or 512)
    counts = np.asarray(setup.embedder.count_tokens(texts), dtype=np.int64)
    return np.minimum(counts + 2, max_seq)  # [CLS] ... [SEP]


def make_steps(setup: Setup) -> dict[str, Callable[[], Any]]:
    from qa.ingest.chunking import chunk_text
    from qa.ingest.indexing import build_index

    def raw_step(model: Any, texts: Sequence[str]) -> Callable[[], Any]:
        return lambda: C.raw_encode(model, texts, setup.batch)

    e, model = setup.embedder, setup.models[setup.precision]
    steps: dict[str, Callable[[], Any]] = {"raw": raw_step(model, setup.texts)}
    if setup.precision != "fp32":
        steps["raw-fp32"] = raw_step(setup.models["fp32"], setup.texts)
    return steps | {
        "raw-text": raw_step(model, setup.pieces),
        "embedder": lambda: e.encode(setup.texts, batch_size=setup.batch),
        "chunking": lambda: [
            chunk_text(d.doc_id, d.text, count=e.count_tokens, settings=setup.chunking)
            for d in setup.documents
        ],
        "pipeline": lambda: build_index(
            setup.documents, embedder=e, settings=setup.chunking, batch_size=setup.batch
        ),
    }


def run_rounds(
    steps: dict[str, Callable[[], Any]], rounds: int
) -> tuple[dict[str, list[float]], list[list[Any]], dict[str, Any]]:
    """Seconds per step and round, the rounds table, and each step's last result."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    names = list(steps)
    per_round: list[list[Any]] = []
    last: dict[str, Any] = {}
    for step in steps.values():  # warm-up: first calls at new shapes pay one-off costs
        step()
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            seconds, last[name] = C.timed(steps[name])
            times[name].append(seconds)
        per_round.append([f"round {r + 1}", " > ".join(order), *(times[n][-1] for n in names)])
    return times, per_round, last


def agreement(last: dict[str, Any], n: int) -> tuple[float, float]:
    """Median and minimum cosine of the pipeline's chunk vectors against the raw encode
    of the chunk texts: the pipeline must embed the same texts to the same vectors."""
    pipe_index = last["pipeline"][0]
    if len(pipe_index.chunks) != n:
        return float("nan"), float("nan")
    try:
        pipe_vecs = pipe_index.faiss.reconstruct_n(0, n)
    except Exception:  # the core's index type may change; the check is a bonus
        return float("nan"), float("nan")
    cosines = np.sum(pipe_vecs * np.asarray(last["raw"]), axis=1)
    return float(np.median(cosines)), float(np.min(cosines))


# ----- the tables --------------------------------------------------------------------------


def print_corpus(setup: Setup, cores: str) -> None:
    n, chunking = len(setup.texts), setup.chunking
    C.emit(
        C.table(
            f"Corpus ({cores})",
            ["corpus", "documents", "chunks", "tokens", "tokens/chunk", "chunk settings"],
            [
                [
                    setup.label,
                    len(setup.documents),
                    n,
                    setup.tokens,
                    setup.tokens / max(n, 1),
                    f"{chunking.max_tokens} max / {chunking.overlap_tokens} overlap, "
                    f"batch {setup.batch}",
                ]
            ],
        )
    )
    C.emit(
        f"tokens include [CLS] and [SEP]; counted with embedder.count_tokens; the service "
        f"encodes in {setup.precision} "
        f"(QA_PRECISION={getattr(setup.settings, 'precision', 'n/a')}); the corpus text "
        f"itself is {setup.text_tokens} tokens, in {len(setup.pieces)} stride-long pieces"
    )
    C.emit()


def print_throughput(
    setup: Setup, times: dict[str, list[float]], med: dict[str, float], last: dict[str, Any]
) -> None:
    n, p = len(setup.texts), setup.precision
    what = {
        "raw": f"SentenceTransformer.encode of the chunk texts, one call, {p}",
        "raw-fp32": "SentenceTransformer.encode of the chunk texts, one call, fp32",
        "embedder": f"qa SentenceTransformerEmbedder.encode of the chunk texts, {p}",
        "pipeline": "qa.ingest.indexing.build_index (chunk+embed+index)",
    }
    rows = [
        [
            name,
            what[name],
            med[name],
            min(times[name]),
            n / med[name],
            setup.tokens / med[name],
            C.ratio(med[name], med["raw"]),
        ]
        for name in what
        if name in med
    ]
    C.emit(
        C.table(
            f"Indexing throughput, medians of {setup.args.rounds} interleaved rounds "
            f"({cores_of(setup)})",
            ["variant", "what", "median s", "best s", "chunks/s", "tokens/s", "time / raw"],
            rows,
        )
    )
    overhead = med["pipeline"] - med["raw"]
    C.emit(
        f"pipeline/raw time ratio {C.ratio(med['pipeline'], med['raw']):.2f} "
        f"(throughput ratio {C.ratio(med['raw'], med['pipeline']):.2f}); "
        f"pipeline overhead {overhead:.2f} s, of which chunking {med['chunking']:.2f} s "
        f"({C.ratio(med['chunking'], med['pipeline']) * 100:.0f} % of the pipeline)"
    )
    if "raw-fp32" in med:
        C.emit(
            f"{p} against fp32, raw encode: "
            f"{C.ratio(med['raw-fp32'], med['raw']):.2f}x the throughput"
        )
    cos_median, cos_min = agreement(last, n)
    C.emit(
        f"check: pipeline embedded {len(last['pipeline'][0].chunks)} chunks for {n} raw texts; "
        f"cosine of its chunk vectors with the raw ones: median "
        f"{C.fmt(cos_median, 5)}, min {C.fmt(cos_min, 5)}"
    )
    C.emit()


def print_text_throughput(setup: Setup, med: dict[str, float]) -> None:
    """The issue's measure: corpus text indexed per second against the raw model reading
    the same text once at the same precision."""
    words = setup.text_tokens
    what = {
        "raw-text": f"encode of the corpus text in its {len(setup.pieces)} stride-long pieces",
        "raw": f"encode of the {len(setup.texts)} chunk texts (overlap encoded twice)",
        "pipeline": "qa index (qa.ingest.indexing.build_index)",
    }
    rows = [
        [name, what[name], med[name], words / med[name], C.ratio(med["raw-text"], med[name])]
        for name in what
    ]
    C.emit(
        C.table(
            f"Corpus text indexed per second, {setup.precision} ({cores_of(setup)})",
            ["variant", "what", "median s", "text tokens/s", "throughput / raw-text"],
            rows,
        )
    )
    C.emit(
        f"qa index per unit of corpus text: {C.ratio(med['raw-text'], med['pipeline']):.2f} "
        "of the raw model's throughput on the same text at the same precision (target >= 0.9)"
    )
    C.emit()


def cores_of(setup: Setup) -> str:
    return str(setup.args.cores)


# ----- the compute limit -------------------------------------------------------------------


def compute_limit(setup: Setup) -> dict[str, Any]:
    """Matrix-multiply peaks of this machine and the model's FLOPs for what it read."""
    shape = model_shape(setup.models[setup.precision])
    threads = int(setup.args.info["torch_threads"])
    budget = 0.5 if setup.args.quick else 4.0
    ff_rows = min(4096, max(setup.batch * int(np.mean(setup.seq_lens)), 64))
    rates = matmul_rates(matmul_kernels(ff_rows, shape), seconds=budget, threads=threads)
    peaks: dict[str, tuple[str, float]] = {}
    for prec in ("fp32", "bf16"):
        best = {k: max(v) for k, v in rates.items() if k.startswith(prec)}
        name = max(best, key=lambda k: best[k])
        peaks[prec] = (name, best[name])
    padded_lens = padded_lengths(setup.texts, setup.seq_lens, setup.batch)
    return {
        "shape": shape,
        "threads": threads,
        "rates": rates,
        "peaks": peaks,
        "useful": sequence_flops(setup.seq_lens, shape),
        "padded_tokens": int(padded_lens.sum()),
        "padded": sequence_flops(padded_lens, shape),  # each sequence at its batch's length
    }


def print_matmul(limit: dict[str, Any], cores: str) -> None:
    rates = limit["rates"]
    C.emit(
        C.table(
            f"Matrix multiply on this machine, {limit['threads']} threads, "
            f"{len(next(iter(rates.values())))} interleaved reps ({cores})",
            ["matmul", "best GFLOP/s", "median GFLOP/s"],
            [[k, max(v) / 1e9, C.median(v) / 1e9] for k, v in rates.items()],
        )
    )
    for prec, (name, peak) in limit["peaks"].items():
        C.emit(f"{prec} limit used below: the best {prec} rate, {name}: {peak / 1e9:.0f} GFLOP/s")
    C.emit()


def variant_precisions(setup: Setup, med: dict[str, float]) -> dict[str, str]:
    names = {"raw": setup.precision, "raw-fp32": "fp32", "pipeline": setup.precision}
    return {k: v for k, v in names.items() if k in med}


def print_limit(setup: Setup, limit: dict[str, Any], med: dict[str, float]) -> None:
    per_token = limit["useful"] / setup.tokens
    rows = []
    for name, prec in variant_precisions(setup, med).items():
        peak = limit["peaks"][prec][1]
        useful, padded = limit["useful"], limit["padded"]
        rows.append(
            [
                name,
                prec,
                setup.tokens / med[name],
                peak / per_token,
                useful / med[name] / 1e9,
                padded / med[name] / 1e9,
                C.ratio(useful / med[name], peak),
                C.ratio(padded / med[name], peak),
            ]
        )
    C.emit(
        C.table(
            f"Encoding against the compute limit of its precision ({cores_of(setup)})",
            [
                "variant",
                "precision",
                "tokens/s",
                "limit tokens/s",
                "useful GFLOP/s",
                "padded GFLOP/s",
                "useful / peak",
                "padded / peak",
            ],
            rows,
        )
    )
    print_limit_notes(setup, limit, per_token)


def print_limit_notes(setup: Setup, limit: dict[str, Any], per_token: float) -> None:
    shape = limit["shape"]
    C.emit(
        f"model: {shape['layers']} layers, hidden {shape['hidden']}, intermediate "
        f"{shape['intermediate']}, {shape['params_total'] / 1e6:.1f}M parameters, "
        f"{shape['params_linear'] / 1e6:.2f}M in encoder Linear layers (P)"
    )
    C.emit(
        f"FLOPs per token at this corpus's lengths (mean {np.mean(setup.seq_lens):.0f} tokens): "
        f"{per_token / 1e6:.1f}M useful = 2*P + layers*4*n*hidden"
    )
    C.emit(
        f"padding: batches of {setup.batch} computed {limit['padded_tokens']:,} token positions "
        f"for {setup.tokens:,} real tokens ({C.ratio(limit['padded_tokens'], setup.tokens):.2f}x)"
    )


# ----- main --------------------------------------------------------------------------------


def save(
    setup: Setup, times: dict[str, list[float]], med: dict[str, float], limit: dict[str, Any]
) -> None:
    n, tokens, peaks = len(setup.texts), setup.tokens, limit["peaks"]
    C.save_json(
        C.json_path(setup.args.json, "bench_index"),
        {
            "benchmark": "bench_index",
            "quick": setup.args.quick,
            "machine": setup.args.info,
            "corpus": {
                "label": setup.label,
                "documents": len(setup.documents),
                "chunks": n,
                "tokens": tokens,
                "text_tokens": setup.text_tokens,
                "text_pieces": len(setup.pieces),
                "padded_tokens": limit["padded_tokens"],
            },
            "seconds": times,
            "median_seconds": med,
            "precision": setup.precision,
            "pipeline_over_raw_time": C.ratio(med["pipeline"], med["raw"]),
            "text_throughput_over_raw": C.ratio(med["raw-text"], med["pipeline"]),
            "chunks_per_second": {k: n / v for k, v in med.items() if k != "chunking"},
            "tokens_per_second": {k: tokens / v for k, v in med.items() if k != "chunking"},
            "text_tokens_per_second": {
                k: setup.text_tokens / v for k, v in med.items() if k != "chunking"
            },
            "model": limit["shape"],
            "flops_per_token": limit["useful"] / tokens,
            "matmul_gflops_best": {k: max(v) / 1e9 for k, v in limit["rates"].items()},
            "matmul_gflops_median": {k: C.median(v) / 1e9 for k, v in limit["rates"].items()},
            "limit_gflops": {p: peak / 1e9 for p, (_, peak) in peaks.items()},
            "fraction_of_peak_useful": {
                k: limit["useful"] / med[k] / peaks[p][1]
                for k, p in variant_precisions(setup, med).items()
            },
            "stats": setup.stats.__dict__,
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.info = C.machine_info()
    C.print_header("bench_index: indexing throughput", args.info, quick=args.quick)
    args.cores = C.cores_label(args.info)
    setup = load_setup(args)
    cut_texts(setup)
    times, per_round, last = run_rounds(make_steps(setup), args.rounds)
    med = {k: C.median(v) for k, v in times.items()}
    print_corpus(setup, args.cores)
    C.emit(C.table(f"Rounds, seconds ({args.cores})", ["round", "order", *times], per_round))
    C.emit()
    print_throughput(setup, times, med, last)
    print_text_throughput(setup, med)
    limit = compute_limit(setup)
    print_matmul(limit, args.cores)
    print_limit(setup, limit, med)
    save(setup, times, med, limit)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
