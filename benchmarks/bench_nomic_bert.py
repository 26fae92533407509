"""NomicBERT-style encoder vs BertModel of the same dimensions: throughput and peak memory on CPU.

Both are transformers' native classes with SDPA attention and random weights: ``NomicBertModel`` (RoPE, SwiGLU, no
biases; built by st_plus's preset) and ``BertModel`` (absolute positions, GELU MLP, biases) with equal hidden size,
layers, heads and intermediate size (so the SwiGLU MLP has 1.5x the MLP weights of BERT's). For each length
(128, 512, 2,048 tokens) and model, a fresh process runs batches of about ``--tokens`` tokens:

* forward+backward tokens/s (training step without optimiser: mean of the last hidden state, backward);
* encode tokens/s (forward under ``torch.inference_mode``);
* peak RSS of the process, and its growth over the RSS after the model was built.

Usage:
    python benchmarks/bench_nomic_bert.py [--preset small] [--lengths 128 512 2048] [--tokens 4096] [--iters 2]

Prints one row per (length, model) and the ratios NomicBERT / BERT. Noisy shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _rss_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker(arch: str, length: int, preset: str, tokens: int, iters: int) -> dict:
    """Measures one (model, length) in this process; returns the numbers."""
    import torch
    from transformers import BertConfig, BertModel, NomicBertModel

    from st_plus.models import nomic_bert_config

    torch.manual_seed(0)
    config = nomic_bert_config(preset, vocab_size=30522, max_position_embeddings=max(length, 512))
    if arch == "nomic":
        config._attn_implementation = "sdpa"
        model = NomicBertModel(config)
    else:
        bert = BertConfig(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            max_position_embeddings=config.max_position_embeddings,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        bert._attn_implementation = "sdpa"
        model = BertModel(bert, add_pooling_layer=False)
    batch = max(1, tokens // length)
    ids = torch.randint(1000, 30000, (batch, length))
    mask = torch.ones_like(ids)
    mask[batch // 2 :, length * 3 // 4 :] = 0  # some padding, as in real batches
    params = sum(p.numel() for p in model.parameters())
    base_rss = _rss_mib()

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, attention_mask=mask).last_hidden_state.mean().backward()

    def encode_step() -> None:
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    results = {"arch": arch, "length": length, "batch": batch, "params_m": round(params / 1e6, 1)}
    model.train()
    for name, step in (("train", train_step), ("encode", encode_step)):
        step()  # warm-up
        start = time.perf_counter()
        for _ in range(iters):
            step()
        seconds = time.perf_counter() - start
        results[f"{name}_tokens_per_s"] = round(batch * length * iters / seconds, 1)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["rss_growth_mib"] = round(results["peak_rss_mib"] - base_rss, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="st_plus NomicBERT preset (BERT gets the same sizes)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048])
    parser.add_argument("--tokens", type=int, default=4096, help="Tokens per batch (batch = tokens // length)")
    parser.add_argument("--iters", type=int, default=2, help="Timed iterations after one warm-up")
    parser.add_argument("--output", help="Also write the rows as JSON here")
    parser.add_argument("--worker", nargs=2, metavar=("ARCH", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        arch, length = args.worker
        print(json.dumps(worker(arch, int(length), args.preset, args.tokens, args.iters)))
        return

    rows = []
    print(f"preset {args.preset}, ~{args.tokens} tokens per batch, {args.iters} timed iterations, CPU, SDPA")
    header = ("length", "model", "params", "train tok/s", "encode tok/s", "peak RSS", "growth")
    print(" ".join(f"{name:>{width}}" for name, width in zip(header, (6, 6, 7, 12, 13, 9, 7), strict=True)))
    for length in args.lengths:
        pair = {}
        for arch in ("bert", "nomic"):
            command = [sys.executable, __file__, "--worker", arch, str(length), "--preset", args.preset,
                       "--tokens", str(args.tokens), "--iters", str(args.iters)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            pair[arch] = row
            print(f"{length:>6} {arch:>6} {row['params_m']:>6}M {row['train_tokens_per_s']:>12,.0f} "
                  f"{row['encode_tokens_per_s']:>13,.0f} {row['peak_rss_mib']:>7,.0f}MB "
                  f"{row['rss_growth_mib']:>5,.0f}MB")  # fmt: skip
        bert, nomic = pair["bert"], pair["nomic"]
        print(f"{length:>6}  ratio nomic/bert: train {nomic['train_tokens_per_s'] / bert['train_tokens_per_s']:.2f}x, "
              f"encode {nomic['encode_tokens_per_s'] / bert['encode_tokens_per_s']:.2f}x, "
              f"peak RSS {nomic['peak_rss_mib'] / bert['peak_rss_mib']:.2f}x")  # fmt: skip
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
