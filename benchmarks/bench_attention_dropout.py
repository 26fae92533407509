"""The cost of attention-probability dropout in a training step on CPU: the same batches with and without it.

    python benchmarks/bench_attention_dropout.py --output benchmarks/results/attention_dropout.json
    python benchmarks/bench_attention_dropout.py --texts 64 --field anchor --output ...   # stage 1's titles
    python benchmarks/bench_attention_dropout.py --texts 32 --length 512 --join 8 --output ...   # longer inputs
    python benchmarks/bench_attention_dropout.py --rounds 1 --batches 1 --output /tmp/smoke.json   # a smoke run

The bundled all-MiniLM-L6-v2 in training mode runs a forward and backward pass (the mean of the token embeddings as
the loss; no optimiser) on batches of shipped Debian package descriptions (``--texts`` per batch, the ablation
recipe's stage-2 Debian batch: 32 rows x (query, positive, 3 negatives) = 160 texts; at most ``--length`` tokens,
the recipe's training length), the way a sentence-transformers trainer runs the model: bfloat16 autocast where the
CPU has it (``--dtype``), PyTorch's scaled-dot-product attention as transformers picks it. The arms:

- ``default``: the model as it is (BERT: attention dropout 0.1, hidden dropout 0.1), what a plain
  sentence-transformers user trains;
- ``no attention dropout``: inside :func:`st_plus.models.attention_dropout` ``(model, 0.0, keep_cpu_kernel=False)``
  (hidden dropout unchanged), attention on the kernel PyTorch picks (on CPU without dropout: its fused flash kernel);
- ``no attention dropout, math kernel``: the same with attention on PyTorch's unfused ("math") kernel, the one it
  runs with dropout (``torch.nn.attention.sdpa_kernel(SDPBackend.MATH)``).

A recipe's ``attention_dropout: 0.0`` runs the third arm on a machine without CUDA when the model reads at most
``st_plus.models.attention_dropout.UNFUSED_MAX_TOKENS`` (128) tokens, the second otherwise: this benchmark is where
that threshold comes from (``st_plus_picks`` in the output names the arm for ``--length``).

Each round runs every arm over the same batches, in an order alternating between rounds; the result is the median
over rounds of each arm's seconds, and their ratio. Run alone on an idle machine: this is a timing measurement.
The quality side (the same recipe with and without it, three seeds) is ``bench_recipe_vs_st.py``'s
``st_plus_siblings_noattn`` arm.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAIRS = REPO / "examples" / "training_data" / "debian_pairs_en.jsonl.gz"
ARMS = ("default", "no attention dropout", "no attention dropout, math kernel")


def _batches(tokenizer, n_batches: int, n_texts: int, length: int, seed: int, field: str = "positive",
             join: int = 1) -> list[dict]:  # fmt: skip
    with gzip.open(PAIRS, "rt", encoding="utf-8") as handle:
        docs = sorted({json.loads(line)[field] for line in handle})
    random.Random(seed).shuffle(docs)
    docs = [" ".join(docs[i : i + join]) for i in range(0, len(docs) - join + 1, join)]  # longer texts: --join
    return [
        tokenizer(docs[i * n_texts : (i + 1) * n_texts], padding=True, truncation=True, max_length=length,
                  return_tensors="pt")
        for i in range(n_batches)
    ]  # fmt: skip


def _step_seconds(model, batches: list[dict], dtype) -> float:
    import torch

    start = time.perf_counter()
    for features in batches:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            hidden = model[0]({**features})["token_embeddings"]
        hidden.float().mean().backward()
    return time.perf_counter() - start


def measure(args: argparse.Namespace) -> dict:
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from st_plus import load_model
    from st_plus.models import attention_dropout
    from st_plus.models.attention_dropout import UNFUSED_MAX_TOKENS
    from st_plus.training.pipeline import resolve_precision

    torch.manual_seed(0)
    model = load_model("default")
    model.train()
    dtype = torch.bfloat16 if args.dtype == "bf16" or (args.dtype == "auto" and resolve_precision("auto")) else None
    batches = _batches(model.tokenizer, args.batches, args.texts, args.length, args.seed, args.field, args.join)
    _step_seconds(model, batches[:1], dtype)  # warm-up: kernels and allocator
    seconds: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for r in range(args.rounds):
        for arm in ARMS if r % 2 == 0 else ARMS[::-1]:
            p = None if arm == ARMS[0] else 0.0
            kernel = sdpa_kernel(SDPBackend.MATH) if arm == ARMS[2] else contextlib.nullcontext()
            with attention_dropout(model, p, keep_cpu_kernel=False), kernel:
                seconds[arm].append(_step_seconds(model, batches, dtype))
    median = {arm: statistics.median(values) for arm, values in seconds.items()}
    return {
        "settings": {"field": args.field, "join": args.join, "texts_per_batch": args.texts, "length": args.length,
                     "batches": args.batches, "rounds": args.rounds,
                     "dtype": "bfloat16 autocast" if dtype else "float32",
                     "padded_length": [int(b["input_ids"].shape[1]) for b in batches],
                     "threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                     "cpu": platform.processor() or platform.machine(), "torch": torch.__version__},
        "seconds": seconds,
        "median_seconds": {arm: round(v, 3) for arm, v in median.items()},
        "seconds_per_batch": {arm: round(v / args.batches, 3) for arm, v in median.items()},
        "speedup_without_attention_dropout": round(median[ARMS[0]] / median[ARMS[1]], 3),
        "speedup_without_attention_dropout_math_kernel": round(median[ARMS[0]] / median[ARMS[2]], 3),
        "st_plus_picks": ARMS[2] if args.length <= UNFUSED_MAX_TOKENS else ARMS[1],
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--texts", type=int, default=160)
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--dtype", choices=["auto", "bf16", "fp32"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--field", choices=["positive", "anchor"], default="positive",
                   help="descriptions (default) or package titles (stage 1's queries: a few tokens)")
    p.add_argument("--join", type=int, default=1, help="texts of this many descriptions each (for longer --length)")
    args = p.parse_args()
    result = measure(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k.startswith(("seconds_per", "speedup"))}))


if __name__ == "__main__":
    main()
