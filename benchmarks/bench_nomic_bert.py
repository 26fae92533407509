"""NomicBERT-style encoder vs BertModel of the same size: throughput and peak memory on CPU.

All arms are transformers' native classes with SDPA attention and random weights: ``BertModel`` (absolute positions,
GELU MLP, biases), ``NomicBertModel`` (RoPE, SwiGLU, no biases; built by st_plus's preset) run stock, and the same
``NomicBertModel`` with st_plus's fast path (``enable_nomic_fast_path``: padding-free layers, per-sequence attention,
a SwiGLU that keeps two activations for backward). Hidden size, layers and heads are equal; the MLP is matched two
ways (``--match``):

* ``dims``: equal intermediate size, Nomic's own ratio (the SwiGLU MLP has 1.5x the MLP weights of BERT's);
* ``params``: the SwiGLU intermediate size is 2/3 of BERT's, rounded to a multiple of 64 (the PaLM / LLaMA rule for
  a gated MLP of the same parameter count).

For each length (128, 512, 2,048 tokens), batch padding, allocator setting and arm, a fresh process runs batches of
about ``--tokens`` tokens:

* forward+backward tokens/s (training step without optimiser: masked mean of the last hidden state, backward);
* encode tokens/s (forward under ``torch.inference_mode``);
* peak RSS of the process, and its growth over the RSS after the model was built;
* the memory the training forward keeps for backward (distinct storages saved by autograd, parameters excluded):
  what the architecture holds, whatever the allocator does.

``--padding half`` (the default) pads half of the rows to 3/4 of the length, as in real batches; ``none`` pads
nothing, so the padding-free layers have nothing to skip. ``--allocator default`` runs the workers with glibc's
defaults; ``fixed`` sets ``MALLOC_MMAP_THRESHOLD_=131072`` in the workers' environment, which turns off glibc's
dynamic mmap threshold: every block of 128 KiB or more is mapped on allocation and unmapped on free, so the peak
RSS counts what a step holds rather than what the heap keeps after it (it also costs page faults, so compare
speed within one setting only).

Usage:
    python benchmarks/bench_nomic_bert.py [--preset small] [--match params] [--lengths 128 512 2048] [--tokens 4096]
        [--padding half none] [--allocator default fixed]

Prints one row per (length, padding, allocator, arm) and the ratios to BERT. Compare within one run, on an idle
machine. ``--rows FILE --output FILE`` summarises the rows of an earlier results file again, measuring nothing.
"""

from __future__ import annotations

import argparse
import json
import os
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


ARMS = ("bert", "nomic", "nomic_fast")
PADDINGS = ("half", "none")
# glibc reads this at start-up; any value turns off the dynamic mmap threshold (mallopt(3), M_MMAP_THRESHOLD)
MMAP_VARIABLE = "MALLOC_MMAP_THRESHOLD_"
ALLOCATORS = {"default": {}, "fixed": {MMAP_VARIABLE: "131072"}}


def swiglu_intermediate(bert_intermediate: int, match: str) -> int:
    """The SwiGLU intermediate size compared with a BERT MLP of ``bert_intermediate``: equal, or 2/3 of it."""
    if match == "dims":
        return bert_intermediate
    return max(64, round(bert_intermediate * 2 / 3 / 64) * 64)


def worker_environment(allocator: str, environ: dict[str, str]) -> dict[str, str]:
    """The workers' environment: ``environ`` with the allocator's settings ("default" drops a threshold set there)."""
    return {k: v for k, v in environ.items() if k != MMAP_VARIABLE} | ALLOCATORS[allocator]


def saved_for_backward_mib(model, forward) -> float:
    """MiB of the distinct tensor storages autograd saves while ``forward()`` runs, ``model``'s parameters excluded."""
    import torch

    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    sizes: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        pointer = tensor.untyped_storage().data_ptr()
        if pointer not in parameters:
            sizes[pointer] = max(sizes.get(pointer, 0), tensor.untyped_storage().nbytes())
        return tensor.detach()  # the tensor itself would tie a saved output to its own graph (a cycle)

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()  # the graph (and what it saved) is freed on return; the sizes were taken while it lived
    return sum(sizes.values()) / 2**20


def worker(
    arch: str, length: int, preset: str, tokens: int, iters: int, match: str = "dims", padding: str = "half"
) -> dict:
    """Measures one (model, length, padding) in this process; returns the numbers."""
    import torch
    from transformers import BertConfig, BertModel, NomicBertModel

    from st_plus.models import enable_nomic_fast_path, nomic_bert_config

    torch.manual_seed(0)
    config = nomic_bert_config(preset, vocab_size=30522, max_position_embeddings=max(length, 512))
    if arch in ("nomic", "nomic_fast"):
        config.intermediate_size = swiglu_intermediate(config.intermediate_size, match)
        config._attn_implementation = "sdpa"
        model = NomicBertModel(config)
        if arch == "nomic_fast":
            enable_nomic_fast_path(model)
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
    if padding == "half":
        mask[batch // 2 :, length * 3 // 4 :] = 0  # some padding, as in real batches
    params = sum(p.numel() for p in model.parameters())
    base_rss = _rss_mib()

    weights = (mask / mask.sum(dim=1, keepdim=True))[..., None]  # masked mean, as ST's mean pooling

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        (model(input_ids=ids, attention_mask=mask).last_hidden_state * weights).sum().backward()

    def encode_step() -> None:
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    results = {"arch": arch, "match": match, "padding": padding, "length": length, "batch": batch}
    results["params_m"] = round(params / 1e6, 1)
    results["intermediate_size"] = model.config.intermediate_size
    results["fast_path"] = type(model).__module__.startswith("st_plus")  # the fast path's subclasses
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
    # after the peak was read: this extra forward would change what the allocator keeps, and so the peak
    forward = lambda: (model(input_ids=ids, attention_mask=mask).last_hidden_state * weights).sum()  # noqa: E731
    results["saved_for_backward_mib"] = round(saved_for_backward_mib(model, forward), 1)
    return results


def _condition(row: dict) -> tuple[int, str, str]:
    """(length, padding, allocator) of a row; rows written before those settings existed were half / default."""
    return row["length"], row.get("padding", "half"), row.get("allocator", "default")


def summarize(rows: list[dict]) -> list[dict]:
    """Per (length, padding, allocator, arm): median tokens/s over rounds, the largest peak RSS, ratios to BERT's."""
    import statistics

    summary = []
    for length, padding, allocator in sorted({_condition(row) for row in rows}):
        here = [row for row in rows if _condition(row) == (length, padding, allocator)]
        per_arm = {}
        for arch in ARMS:
            mine = [row for row in here if row["arch"] == arch]
            if not mine:
                continue
            per_arm[arch] = {
                "length": length,
                "padding": padding,
                "allocator": allocator,
                "arch": arch,
                "rounds": len(mine),
                "params_m": mine[0]["params_m"],
                "intermediate_size": mine[0].get("intermediate_size"),
                "train_tokens_per_s": round(statistics.median(r["train_tokens_per_s"] for r in mine), 1),
                "encode_tokens_per_s": round(statistics.median(r["encode_tokens_per_s"] for r in mine), 1),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in mine),
            }
            if all("saved_for_backward_mib" in r for r in mine):
                per_arm[arch]["saved_for_backward_mib"] = max(r["saved_for_backward_mib"] for r in mine)
        bert = per_arm.get("bert")
        for entry in per_arm.values():
            if bert is not None:
                # the goals compare the medians themselves, not the rounded ratios (0.99995x is not 1.0x)
                speeds = ("train_tokens_per_s", "encode_tokens_per_s")
                entry["speed_ge_bert"] = all(entry[k] >= bert[k] for k in speeds)
                for key, name in (("train_tokens_per_s", "train"), ("encode_tokens_per_s", "encode")):
                    entry[f"{name}_vs_bert"] = round(entry[key] / bert[key], 3)
                entry["peak_rss_vs_bert"] = round(entry["peak_rss_mib"] / bert["peak_rss_mib"], 3)
                if "saved_for_backward_mib" in entry and "saved_for_backward_mib" in bert:
                    entry["saved_vs_bert"] = round(entry["saved_for_backward_mib"] / bert["saved_for_backward_mib"], 3)
            summary.append(entry)
    return summary


def goals(summary: list[dict], length: int = 512) -> dict:
    """Issue 17's NomicBERT goal at ``length``: each Nomic arm >= 1.0x BERT (train, encode), peak RSS <= BERT's.

    Keyed by arm for the default setting (padded batches, glibc's defaults), else by ``arm/padding/allocator``.
    """
    out = {}
    for entry in summary:
        if entry["length"] == length and entry["arch"] != "bert" and "train_vs_bert" in entry:
            setting = (entry.get("padding", "half"), entry.get("allocator", "default"))
            key = entry["arch"] if setting == ("half", "default") else "/".join((entry["arch"], *setting))
            out[key] = {
                "speed_ge_1x": entry["speed_ge_bert"],
                "peak_rss_le_bert": entry["peak_rss_vs_bert"] <= 1.0,
            }
            if "saved_vs_bert" in entry:
                out[key]["saved_for_backward_le_bert"] = entry["saved_vs_bert"] <= 1.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="st_plus NomicBERT preset (BERT gets the same sizes)")
    parser.add_argument("--match", choices=("dims", "params"), default="params",
                        help="equal intermediate size (dims) or equal MLP parameters (params)")  # fmt: skip
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048])
    parser.add_argument("--padding", nargs="+", choices=PADDINGS, default=["half"],
                        help="half: half the rows padded to 3/4 of the length; none: no padding")  # fmt: skip
    parser.add_argument("--allocator", nargs="+", choices=tuple(ALLOCATORS), default=["default"],
                        help="glibc's defaults, or a fixed mmap threshold (see above)")  # fmt: skip
    parser.add_argument("--tokens", type=int, default=4096, help="Tokens per batch (batch = tokens // length)")
    parser.add_argument("--iters", type=int, default=2, help="Timed iterations after one warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds of the arms (median reported)")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--output", help="Also write the rows, the summary and the goals as JSON here")
    parser.add_argument("--rows", help="Summarise the rows of this earlier results file again instead of measuring")
    parser.add_argument("--worker", nargs=2, metavar=("ARCH", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        arch, length = args.worker
        row = worker(arch, int(length), args.preset, args.tokens, args.iters, args.match, args.padding[0])
        print(json.dumps(row))
        return

    if args.rows:
        with open(args.rows, encoding="utf-8") as handle:
            earlier = json.load(handle)
        report(earlier["rows"], earlier["config"], args.output)
        return
    rows = []
    print(f"preset {args.preset}, match {args.match}, ~{args.tokens} tokens per batch, {args.iters} timed iterations, "
          f"{args.rounds} alternating rounds, CPU, SDPA")  # fmt: skip
    for length in args.lengths:
        for padding in args.padding:
            for allocator in args.allocator:
                environment = worker_environment(allocator, os.environ)
                for round_index in range(args.rounds):
                    order = args.arms if round_index % 2 == 0 else args.arms[::-1]
                    for arch in order:
                        command = [sys.executable, __file__, "--worker", arch, str(length), "--preset", args.preset,
                                   "--tokens", str(args.tokens), "--iters", str(args.iters), "--match", args.match,
                                   "--padding", padding]  # fmt: skip
                        done = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
                        row = json.loads(done.stdout.strip().splitlines()[-1])
                        rows.append({**row, "allocator": allocator, "round": round_index})
                        print(f"{length:>6} {padding:>4} {allocator:>7} round {round_index} {arch:>10} "
                              f"{row['params_m']:>5}M train {row['train_tokens_per_s']:>8,.0f} tok/s "
                              f"encode {row['encode_tokens_per_s']:>8,.0f} tok/s "
                              f"peak RSS {row['peak_rss_mib']:>6,.0f} MB "
                              f"saved {row['saved_for_backward_mib']:>6,.0f} MB", flush=True)  # fmt: skip
    keys = ("preset", "match", "lengths", "padding", "allocator", "tokens", "iters", "rounds", "arms")
    report(rows, {k: getattr(args, k) for k in keys}, args.output)


def report(rows: list[dict], config: dict, output: str | None) -> None:
    """Prints the summary table and the goals of ``rows``; writes them, with ``config``, to ``output`` if given."""
    summary = summarize(rows)
    print("\n| tokens | padding | allocator | model | params | intermediate | train tokens/s | encode tokens/s "
          "| peak RSS | saved for backward |")  # fmt: skip
    print("|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
    for e in summary:
        ratio = "" if e["arch"] == "bert" else " ({:.2f}x)"
        saved = e.get("saved_for_backward_mib")
        saved = "" if saved is None else f"{saved:,.0f} MB{ratio.format(e.get('saved_vs_bert', 0))}"
        print(f"| {e['length']:,} | {e['padding']} | {e['allocator']} | {e['arch']} | {e['params_m']}M "
              f"| {e['intermediate_size']:,} "
              f"| {e['train_tokens_per_s']:,.0f}{ratio.format(e.get('train_vs_bert', 0))} "
              f"| {e['encode_tokens_per_s']:,.0f}{ratio.format(e.get('encode_vs_bert', 0))} "
              f"| {e['peak_rss_mib']:,.0f} MB{ratio.format(e.get('peak_rss_vs_bert', 0))} | {saved} |")  # fmt: skip
    reached = goals(summary)
    for arch, goal in reached.items():
        verdict = {name: "met" if value else "not met" for name, value in goal.items()}
        print(f"512 tokens, {arch}: >= 1.0x BERT train and encode: {verdict['speed_ge_1x']}; "
              f"peak RSS <= BERT: {verdict['peak_rss_le_bert']}; "
              f"saved for backward <= BERT: {verdict.get('saved_for_backward_le_bert', 'not measured')}")  # fmt: skip
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            json.dump({"config": config, "rows": rows, "summary": summary, "goals_at_512": reached}, handle, indent=2)


if __name__ == "__main__":
    main()
