"""Encoding speed: st_plus's token-budget batches vs sentence-transformers' ``encode`` (fp32 and bf16), same model.

    python benchmarks/bench_encode.py                                    # 3 rounds, every corpus, every arm
    python benchmarks/bench_encode.py --rounds 1 --limit 200 --output /tmp/smoke.json

The bundled all-MiniLM-L6-v2 at its own length (256 tokens) encodes three shipped text sets:

- ``debian_docs``: the distinct Debian package descriptions of examples/training_data/debian_pairs_en.jsonl.gz
  (the mining pool of the recipes; 10-250 tokens);
- ``debian_titles``: their distinct titles (queries: a few tokens each);
- ``qmsum_docs``: the QMSum meeting transcripts of examples/data/retrieval_qmsum_longdoc_en (truncated at 256).

The arms:

- ``st fp32``: ``model.encode(texts, batch_size=32)`` (sentence-transformers' defaults: batches of 32 texts sorted
  by characters);
- ``st bf16 autocast``: the same inside ``torch.autocast("cpu", dtype=torch.bfloat16)``;
- ``st bf16 weights``: the same on a copy of the model cast to bfloat16 (``model.bfloat16()``); the stronger of the
  two bf16 arms is the plain-ST baseline;
- ``st_plus fp32``: :func:`st_plus.encoding.encode_by_token_budget` in float32 (exact token counts, batches of at
  most 8192 padded tokens and 512 texts): the batching alone;
- ``st_plus``: the same with ``dtype="bfloat16"`` (a bfloat16 copy of the weights), what st_plus's bf16 evaluation
  (``EmbeddingCache(dtype="bfloat16")``, ``evaluate_suite(..., dtype="bfloat16")``) encodes with.
- ``st_plus compiled`` (an experiment, not an st_plus option): ``st_plus`` with the transformer's forward run
  through ``torch.compile`` (inductor, dynamic shapes; one compilation reused by every bfloat16 copy, a 1-row batch
  run as 2 rows so that it is not compiled again). The compilation happens in a warm-up call before the rounds and
  is reported apart (``compile_seconds``, with inductor's on-disk cache as this process found it);
  ``texts_per_s_with_compile`` charges it once to each corpus.

With ``--profile``, after the rounds, the ``st_plus`` and ``st bf16 weights`` arms run once more each under
``torch.profiler`` (CPU): the share of their time spent in the matrix-multiply and attention kernels (self time of
``aten::addmm`` / ``mm`` / ``bmm`` / ``baddbmm`` and ``aten::_scaled_dot_product*``), the largest ops, and the real
and padded tokens they fed the model. From these, ``ceiling_x_best_st_bf16``: st_plus's ratio to the best plain-ST bf16
if everything outside those kernels took no time and the kernels' time shrank to its real (unpadded) tokens, i.e.
best ST bf16 median seconds / (st_plus median seconds x kernel share x real / padded tokens). A ratio above it needs
fewer operations per token than the same model in bfloat16 (another model or precision), not better batching.

Each round runs every arm once, in an order alternating between rounds; texts/s is over the median seconds. The
embeddings of every arm are compared with ``st fp32`` (minimum and mean cosine; goal >= 0.999). Run alone on an
idle machine: this is a timing measurement.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEBIAN = REPO / "examples" / "training_data" / "debian_pairs_en.jsonl.gz"
QMSUM = REPO / "examples" / "data" / "retrieval_qmsum_longdoc_en" / "corpus.jsonl.gz"
ARMS = ("st fp32", "st bf16 autocast", "st bf16 weights", "st_plus fp32", "st_plus", "st_plus compiled")


def _corpora(limit: int | None) -> dict[str, list[str]]:
    with gzip.open(DEBIAN, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    with gzip.open(QMSUM, "rt", encoding="utf-8") as handle:
        qmsum = [json.loads(line)["text"] for line in handle if line.strip()]
    corpora = {
        "debian_docs": list(dict.fromkeys(r["positive"] for r in rows)),
        "debian_titles": list(dict.fromkeys(r["anchor"] for r in rows)),
        "qmsum_docs": list(dict.fromkeys(qmsum)),
    }
    return {name: texts[:limit] if limit else texts for name, texts in corpora.items()}


_COMPILED = None  # torch.compile(_call, dynamic=True), made at the first compiled call


def _call(module, kwargs):
    return module(**kwargs)


def _compiled_copy(model):
    """A shallow copy of ``model`` whose transformers model runs compiled (the experiment arm; weights shared)."""
    import copy

    import torch

    class Compiled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def __getattr__(self, name):  # ``config`` and the rest: the wrapped model's
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self.inner, name)

        def forward(self, **kwargs):
            global _COMPILED
            if _COMPILED is None:
                _COMPILED = torch.compile(_call, dynamic=True)
            if kwargs["input_ids"].shape[0] == 1:  # size 1 would be specialised and compiled again
                doubled = {k: torch.cat([v, v]) if torch.is_tensor(v) and v.dim() else v for k, v in kwargs.items()}
                out = _COMPILED(self.inner, doubled)
                return type(out)(**{k: v[:1] if torch.is_tensor(v) else v for k, v in out.items()})
            return _COMPILED(self.inner, kwargs)

    first = copy.copy(model[0])
    first._modules = {**model[0]._modules, "model": Compiled(model[0].model)}
    compiled = copy.copy(model)
    compiled._modules = {**model._modules, next(iter(model._modules)): first}
    return compiled


def _arm(name: str, model, bf16_model, texts: list[str]):
    import torch

    from st_plus.encoding import encode_by_token_budget

    start = time.perf_counter()
    if name == "st fp32":
        out = model.encode(texts, batch_size=32, convert_to_tensor=True)
    elif name == "st bf16 autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model.encode(texts, batch_size=32, convert_to_tensor=True)
    elif name == "st bf16 weights":
        out = bf16_model.encode(texts, batch_size=32, convert_to_tensor=True)
    elif name == "st_plus fp32":
        out = encode_by_token_budget(model, texts)
    elif name == "st_plus":
        out = encode_by_token_budget(model, texts, dtype="bfloat16")
    else:  # the bfloat16 copy encode_by_token_budget would make, compiled
        out = encode_by_token_budget(_compiled_copy(bf16_model), texts, dtype="bfloat16")
    return time.perf_counter() - start, out.float()


_KERNELS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm")


def _profile(name: str, model, bf16_model, texts: list[str]) -> dict:
    """One more run of an arm under torch.profiler: kernel share, largest ops, real and padded tokens."""
    from torch.profiler import ProfilerActivity, profile

    tokens = {"real": 0, "padded": 0}

    def count(_module, args, kwargs):
        features = args[0] if args else kwargs["features"]
        tokens["real"] += int(features["attention_mask"].sum())
        tokens["padded"] += features["attention_mask"].numel()

    # the bfloat16 copy encode_by_token_budget makes is a deepcopy of `model`: the hook travels with it
    hooks = [m[0].register_forward_pre_hook(count, with_kwargs=True) for m in (model, bf16_model)]
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            _arm(name, model, bf16_model, texts)
    finally:
        for hook in hooks:
            hook.remove()
    ops = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(ops.values())
    kernels = sum(t for op, t in ops.items() if op in _KERNELS or op.startswith("aten::_scaled_dot_product"))
    top = sorted(ops.items(), key=lambda item: -item[1])[:6]
    return {"kernel_share": round(kernels / total, 4), "top_ops": {op: round(t / total, 4) for op, t in top},
            "real_tokens": tokens["real"], "padded_tokens": tokens["padded"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, help="At most this many texts per corpus (smoke runs)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "encode.json"))
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--profile", action="store_true",
                        help="Also profile st_plus and st bf16 weights once (kernel share and the ceiling, above)")
    args = parser.parse_args()
    # always: st fp32 (the cosine reference) and st bf16 weights (the plain-ST baseline)
    arms_run = [arm for arm in ARMS if arm in args.arms or arm in ("st fp32", "st bf16 weights")]
    import copy

    import torch

    from st_plus import load_model

    model = load_model("default", device="cpu")
    bf16_model = copy.deepcopy(model).bfloat16()
    corpora = _corpora(args.limit)
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    result: dict = {
        "setup": {"model": "bundled all-MiniLM-L6-v2", "max_seq_length": model.max_seq_length, "rounds": args.rounds,
                  "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
                  "amx_bf16": "amx_bf16" in flags, "avx512_bf16": "avx512_bf16" in flags,
                  "load_average_at_start": os.getloadavg(),
                  "texts": {name: len(texts) for name, texts in corpora.items()}},
        "corpora": {},
    }  # fmt: skip
    if "st_plus compiled" in arms_run:  # the one-time compilation, before any timing
        texts = next(iter(corpora.values()))
        result["setup"]["compile_seconds"] = round(_arm("st_plus compiled", model, bf16_model, texts[:300])[0], 2)
    for name, texts in corpora.items():
        _arm("st fp32", model, bf16_model, texts[:64])  # warm-up: first-call allocations and kernels
        seconds: dict[str, list[float]] = {arm: [] for arm in arms_run}
        outputs = {}
        for round_ in range(args.rounds):
            for arm in arms_run if round_ % 2 == 0 else reversed(arms_run):
                took, outputs[arm] = _arm(arm, model, bf16_model, texts)
                seconds[arm].append(took)
        reference = outputs["st fp32"]
        arms = {}
        for arm in arms_run:
            cosine = torch.nn.functional.cosine_similarity(outputs[arm], reference)
            median = statistics.median(seconds[arm])
            arms[arm] = {"seconds": [round(s, 3) for s in seconds[arm]], "median_seconds": round(median, 3),
                         "texts_per_s": round(len(texts) / median, 1), "cosine_min": round(cosine.min().item(), 5),
                         "cosine_mean": round(cosine.mean().item(), 6)}  # fmt: skip
        best_bf16 = max(arms[a]["texts_per_s"] for a in ("st bf16 autocast", "st bf16 weights") if a in arms)
        if "st_plus compiled" in arms:
            compiled_seconds = arms["st_plus compiled"]["median_seconds"] + result["setup"]["compile_seconds"]
            with_compile = len(texts) / compiled_seconds
            arms["st_plus compiled"]["texts_per_s_with_compile"] = round(with_compile, 1)
            arms["st_plus compiled"]["x_best_st_bf16_with_compile"] = round(with_compile / best_bf16, 3)
        for arm in arms_run:
            arms[arm]["x_st_fp32"] = round(arms[arm]["texts_per_s"] / arms["st fp32"]["texts_per_s"], 3)
            arms[arm]["x_best_st_bf16"] = round(arms[arm]["texts_per_s"] / best_bf16, 3)
        if args.profile:
            profiles = {arm: _profile(arm, model, bf16_model, texts) for arm in ("st_plus", "st bf16 weights")}
            plus = profiles["st_plus"]
            best_seconds = len(texts) / best_bf16
            unpadded = plus["real_tokens"] / plus["padded_tokens"]
            floor = arms["st_plus"]["median_seconds"] * plus["kernel_share"] * unpadded
            ceiling = round(best_seconds / floor, 3)
            result.setdefault("profile", {})[name] = {**profiles, "ceiling_x_best_st_bf16": ceiling}
            print(f"profile: st_plus kernel share {plus['kernel_share']:.3f}, padded / real tokens "
                  f"{plus['padded_tokens'] / plus['real_tokens']:.3f} (ST bf16: "
                  f"{profiles['st bf16 weights']['padded_tokens'] / profiles['st bf16 weights']['real_tokens']:.3f}); "
                  f"ceiling {ceiling:.2f}x best ST bf16")  # fmt: skip
        result["corpora"][name] = arms
        print(f"\n{name} ({len(texts)} texts)\n| arm | texts/s | x ST fp32 | x best ST bf16 | cosine min vs ST fp32 |"
              "\n|---|---:|---:|---:|---:|")  # fmt: skip
        for arm, r in arms.items():
            print(f"| {arm} | {r['texts_per_s']:.1f} | {r['x_st_fp32']:.2f} | {r['x_best_st_bf16']:.2f} | "
                  f"{r['cosine_min']:.5f} |", flush=True)  # fmt: skip
    result["setup"]["load_average_at_end"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
