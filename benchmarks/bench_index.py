"""Indexing throughput: the qa pipeline against raw SentenceTransformer.encode, and the
compute limit of this machine.

Measured side by side in one process, interleaved round by round (the machine is
shared and noisy, so only ratios and medians taken together mean much):

  raw        SentenceTransformer.encode of the very chunk texts the pipeline embeds,
             one call, same batch size, loaded straight from the packaged model folder
             at the precision the service uses (QA_PRECISION: bf16 on CPUs with native
             bf16, fp32 elsewhere)
  raw-fp32   the same in fp32, when the service uses another precision
  embedder   qa's SentenceTransformerEmbedder.encode of the same texts (its wrapper)
  chunking   qa.chunking.chunk_text of every document with the model's token counter
  pipeline   qa.indexing.build_index: chunk + embed + FAISS (+ BM25) index, from Documents

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
from typing import Any

import _common as C
import numpy as np


def load_documents(quick: bool) -> tuple[list[Any], str]:
    from qa.corpus import scan_corpus
    from qa.evaluation import load_squad

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


def main(argv: Sequence[str] | None = None) -> int:
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
    rounds = args.rounds or (1 if args.quick else 3)

    from qa.chunking import chunk_text
    from qa.config import Settings, chunk_settings
    from qa.indexing import build_index

    info = C.machine_info()
    C.print_header("bench_index: indexing throughput", info, quick=args.quick)
    cores = C.cores_label(info)
    threads = int(info["torch_threads"])

    settings = Settings()
    chunking = chunk_settings(settings)
    batch = settings.batch_size
    embedder = C.service_embedder(settings)
    precision = C.embedder_precision(embedder)
    models = {precision: C.raw_model(precision)}
    if precision != "fp32":  # the fp32 baseline too, to see what the precision buys
        models["fp32"] = C.raw_model("fp32")
    documents, corpus_label = load_documents(args.quick)

    # The chunk texts the pipeline embeds, taken from one pipeline run (also a warm-up).
    index, stats = build_index(documents, embedder=embedder, settings=chunking, batch_size=batch)
    texts = [c.text for c in index.chunks]
    token_counts = np.asarray(embedder.count_tokens(texts), dtype=np.int64)
    max_seq = int(models[precision].max_seq_length or 512)
    seq_lens = np.minimum(token_counts + 2, max_seq)  # [CLS] ... [SEP]
    tokens = int(seq_lens.sum())

    def raw_step(model: Any) -> Callable[[], Any]:
        return lambda: C.raw_encode(model, texts, batch)

    steps: dict[str, Callable[[], Any]] = {"raw": raw_step(models[precision])}
    if precision != "fp32":
        steps["raw-fp32"] = raw_step(models["fp32"])
    steps |= {
        "embedder": lambda: embedder.encode(texts, batch_size=batch),
        "chunking": lambda: [
            chunk_text(d.doc_id, d.text, count=embedder.count_tokens, settings=chunking)
            for d in documents
        ],
        "pipeline": lambda: build_index(
            documents, embedder=embedder, settings=chunking, batch_size=batch
        ),
    }
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

    # The pipeline must embed the same texts to the same vectors, or the ratio means nothing.
    pipe_index = last["pipeline"][0]
    agreement = float("nan")
    if len(pipe_index.chunks) == len(texts):
        try:
            pipe_vecs = pipe_index.faiss.reconstruct_n(0, len(texts))
            agreement = float(np.min(np.sum(pipe_vecs * np.asarray(last["raw"]), axis=1)))
        except Exception:  # the core's index type may change; the check is a bonus
            pass

    C.emit(
        C.table(
            f"Corpus ({cores})",
            ["corpus", "documents", "chunks", "tokens", "tokens/chunk", "chunk settings"],
            [
                [
                    corpus_label,
                    len(documents),
                    len(texts),
                    tokens,
                    tokens / max(len(texts), 1),
                    f"{chunking.max_tokens} max / {chunking.overlap_tokens} overlap, batch {batch}",
                ]
            ],
        )
    )
    C.emit(
        f"tokens include [CLS] and [SEP]; counted with embedder.count_tokens; "
        f"the service encodes in {precision} (QA_PRECISION={getattr(settings, 'precision', 'n/a')})"
    )
    C.emit()
    C.emit(C.table(f"Rounds, seconds ({cores})", ["round", "order", *names], per_round))
    C.emit()

    med = {k: C.median(v) for k, v in times.items()}
    n = len(texts)
    what = {
        "raw": f"SentenceTransformer.encode, one call, {precision}",
        "raw-fp32": "SentenceTransformer.encode, one call, fp32",
        "embedder": f"qa SentenceTransformerEmbedder.encode, {precision}",
        "pipeline": "qa.indexing.build_index (chunk+embed+index)",
    }
    rows = []
    for name in (k for k in what if k in steps):
        rows.append(
            [
                name,
                what[name],
                med[name],
                min(times[name]),
                n / med[name],
                tokens / med[name],
                C.ratio(med[name], med["raw"]),
            ]
        )
    C.emit(
        C.table(
            f"Indexing throughput, medians of {rounds} interleaved rounds ({cores})",
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
            f"{precision} against fp32, raw encode: "
            f"{C.ratio(med['raw-fp32'], med['raw']):.2f}x the throughput"
        )
    C.emit(
        f"check: pipeline embedded {len(pipe_index.chunks)} chunks for {n} raw texts; "
        f"min cosine pipeline vs raw vector {C.fmt(agreement, 5)}"
    )
    C.emit()

    # ----- compute limit -----
    shape = model_shape(models[precision])
    useful = sequence_flops(seq_lens, shape)
    padded_lens = padded_lengths(texts, seq_lens, batch)
    padded_tokens = int(padded_lens.sum())
    padded = sequence_flops(padded_lens, shape)  # each sequence at its batch's length
    budget = 0.5 if args.quick else 4.0
    ff_rows = min(4096, max(batch * int(np.mean(seq_lens)), 64))
    rates = matmul_rates(matmul_kernels(ff_rows, shape), seconds=budget, threads=threads)
    peaks: dict[str, tuple[str, float]] = {}
    for prec in ("fp32", "bf16"):
        best = {k: max(v) for k, v in rates.items() if k.startswith(prec)}
        name = max(best, key=lambda k: best[k])
        peaks[prec] = (name, best[name])
    C.emit(
        C.table(
            f"Matrix multiply on this machine, {threads} threads, "
            f"{len(next(iter(rates.values())))} interleaved reps ({cores})",
            ["matmul", "best GFLOP/s", "median GFLOP/s"],
            [[k, max(v) / 1e9, C.median(v) / 1e9] for k, v in rates.items()],
        )
    )
    for prec, (name, peak) in peaks.items():
        C.emit(f"{prec} limit used below: the best {prec} rate, {name}: {peak / 1e9:.0f} GFLOP/s")
    C.emit()
    per_token = useful / tokens
    variant_precision = {"raw": precision, "raw-fp32": "fp32", "pipeline": precision}
    rows = []
    for name, prec in variant_precision.items():
        if name not in med:
            continue
        peak = peaks[prec][1]
        rows.append(
            [
                name,
                prec,
                tokens / med[name],
                peak / per_token,
                useful / med[name] / 1e9,
                padded / med[name] / 1e9,
                C.ratio(useful / med[name], peak),
                C.ratio(padded / med[name], peak),
            ]
        )
    C.emit(
        C.table(
            f"Encoding against the compute limit of its precision ({cores})",
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
    C.emit(
        f"model: {shape['layers']} layers, hidden {shape['hidden']}, intermediate "
        f"{shape['intermediate']}, {shape['params_total'] / 1e6:.1f}M parameters, "
        f"{shape['params_linear'] / 1e6:.2f}M in encoder Linear layers (P)"
    )
    C.emit(
        f"FLOPs per token at this corpus's lengths (mean {np.mean(seq_lens):.0f} tokens): "
        f"{per_token / 1e6:.1f}M useful = 2*P + layers*4*n*hidden"
    )
    C.emit(
        f"padding: batches of {batch} computed {padded_tokens:,} token positions for {tokens:,} "
        f"real tokens ({C.ratio(padded_tokens, tokens):.2f}x)"
    )

    C.save_json(
        C.json_path(args.json, "bench_index"),
        {
            "benchmark": "bench_index",
            "quick": args.quick,
            "machine": info,
            "corpus": {
                "label": corpus_label,
                "documents": len(documents),
                "chunks": n,
                "tokens": tokens,
                "padded_tokens": padded_tokens,
            },
            "seconds": times,
            "median_seconds": med,
            "precision": precision,
            "pipeline_over_raw_time": C.ratio(med["pipeline"], med["raw"]),
            "chunks_per_second": {k: n / v for k, v in med.items() if k != "chunking"},
            "tokens_per_second": {k: tokens / v for k, v in med.items() if k != "chunking"},
            "model": shape,
            "flops_per_token": per_token,
            "matmul_gflops_best": {k: max(v) / 1e9 for k, v in rates.items()},
            "matmul_gflops_median": {k: C.median(v) / 1e9 for k, v in rates.items()},
            "limit_gflops": {p: peak / 1e9 for p, (_, peak) in peaks.items()},
            "fraction_of_peak_useful": {
                k: useful / med[k] / peaks[p][1] for k, p in variant_precision.items() if k in med
            },
            "stats": stats.__dict__,
        },
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
