"""benchmarks/bench_encode.py --profile: the kernel share and the tokens an arm fed the model, checked by hand."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_encode.py"
TEXTS = ["a b c d e f g h", "a b", "c d e", "a", "b c d e f g h a b c d e f", "e f g"] * 50  # 300: the bf16 copy path


@pytest.mark.parametrize("arm", ["st_plus", "st bf16 weights"])
def test_profile_counts_real_and_padded_tokens_and_a_kernel_share(tiny_bert, arm):
    bench = load_script(SCRIPT, "bench_encode")
    bf16 = copy.deepcopy(tiny_bert).bfloat16()

    result = bench._profile(arm, tiny_bert, bf16, TEXTS)

    features = tiny_bert.preprocess(TEXTS)
    assert result["real_tokens"] == int(features["attention_mask"].sum())  # every text passed once, unpadded
    assert result["padded_tokens"] >= result["real_tokens"]
    assert 0.0 < result["kernel_share"] <= 1.0
    assert len(result["top_ops"]) <= 6 and sum(result["top_ops"].values()) <= 1.0 + 1e-6
    # the hooks are gone: encoding again counts nothing into the finished result
    tiny_bert.encode(TEXTS[:4])
    assert not tiny_bert[0]._forward_pre_hooks and not bf16[0]._forward_pre_hooks
