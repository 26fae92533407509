"""Native bfloat16 detection and the ``"auto"`` encoding precision (bfloat16 only where the hardware has it)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from st_plus import precision
from st_plus.chunking import LateChunkingEncoder
from st_plus.encoding import EmbeddingCache, encode_by_token_budget
from st_plus.mining import CorpusEmbeddingStore, retrievers
from st_plus.precision import cpu_supports_bf16, device_supports_bf16, resolve_dtype

TEXTS = ["the cat sat on the mat", "my card has not arrived yet", "how do I reset my password"]
AVX2_ONLY = "processor : 0\nflags : fpu vme sse sse2 avx avx2 fma\n"
AVX512_BF16 = "processor : 0\nflags : fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
AMX = "processor : 0\nflags : fpu sse2 avx2 avx512f amx_bf16 amx_tile amx_int8\n"


@pytest.fixture
def cpu(monkeypatch, tmp_path):
    """Sets the CPU flags /proc/cpuinfo reports (a file under tmp_path) and forgets earlier warnings."""
    monkeypatch.setattr(precision, "_warned_devices", set())

    def set_flags(text: str | None) -> None:
        path = tmp_path / "cpuinfo"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text, encoding="utf-8")
        monkeypatch.setattr(precision, "_CPUINFO", path)
        precision._cpu_flags_have_bf16.cache_clear()  # read once per process: forget the real (or previous) flags

    yield set_flags
    precision._cpu_flags_have_bf16.cache_clear()  # the next test reads this machine's own flags again


@pytest.mark.parametrize(("flags", "native"), [(AVX2_ONLY, False), (AVX512_BF16, True), (AMX, True), (None, False)])
def test_cpu_bf16_is_native_only_with_amx_or_avx512_bf16(cpu, flags, native):
    cpu(flags)

    assert cpu_supports_bf16() is native
    assert device_supports_bf16("cpu") is native


def test_a_device_other_than_cpu_or_cuda_has_no_native_bf16(cpu):
    cpu(AMX)

    assert device_supports_bf16("meta") is False


@pytest.mark.parametrize(("flags", "expected"), [(AVX2_ONLY, "float32"), (AVX512_BF16, "bfloat16"), (AMX, "bfloat16")])
def test_auto_is_bfloat16_only_where_the_cpu_has_it_natively(cpu, flags, expected):
    cpu(flags)

    assert resolve_dtype("auto", "cpu") == expected


def test_float32_stays_float32_whatever_the_cpu(cpu):
    cpu(AMX)

    assert resolve_dtype("float32") == "float32"


def test_explicit_bfloat16_without_native_support_is_kept_and_warned_about_once(cpu, caplog):
    cpu(AVX2_ONLY)

    with caplog.at_level(logging.WARNING, logger="st_plus.precision"):
        first = resolve_dtype("bfloat16", "cpu")
        second = resolve_dtype("bfloat16", "cpu")

    assert first == second == "bfloat16"
    warnings = [r for r in caplog.records if r.name == "st_plus.precision"]
    assert len(warnings) == 1
    assert "AMX-BF16" in warnings[0].getMessage() and "'auto'" in warnings[0].getMessage()


def test_explicit_bfloat16_with_native_support_is_not_warned_about(cpu, caplog):
    cpu(AVX512_BF16)

    with caplog.at_level(logging.WARNING, logger="st_plus.precision"):
        assert resolve_dtype("bfloat16", "cpu") == "bfloat16"

    assert [r for r in caplog.records if r.name == "st_plus.precision"] == []


@pytest.mark.parametrize("dtype", ["bf16", "float16", "", "AUTO"])
def test_an_unknown_dtype_is_refused_with_the_choices(dtype):
    with pytest.raises(ValueError, match="'auto', 'float32', 'bfloat16'"):
        resolve_dtype(dtype)


def test_embedding_cache_resolves_auto_to_float32_without_native_bf16_and_matches_float32(cpu, tiny_model):
    cpu(AVX2_ONLY)

    auto = EmbeddingCache(tiny_model, dtype="auto")
    exact = EmbeddingCache(tiny_model, dtype="float32")

    assert auto.dtype == "float32"
    np.testing.assert_array_equal(auto.encode(TEXTS), exact.encode(TEXTS))


def test_embedding_cache_resolves_auto_to_bfloat16_with_native_bf16(cpu, tiny_model):
    cpu(AMX)

    assert EmbeddingCache(tiny_model, dtype="auto").dtype == "bfloat16"


def test_token_budget_encoding_with_auto_and_no_native_bf16_is_the_float32_encoding(cpu, tiny_bert):
    cpu(AVX2_ONLY)

    auto = encode_by_token_budget(tiny_bert, TEXTS * 100, dtype="auto")
    exact = encode_by_token_budget(tiny_bert, TEXTS * 100, dtype="float32")

    np.testing.assert_array_equal(auto.numpy(), exact.numpy())


def test_the_chunk_encoder_stores_the_resolved_precision(cpu, tiny_bert):
    cpu(AVX2_ONLY)

    assert LateChunkingEncoder(tiny_bert, dtype="auto").dtype == "float32"


def test_the_mining_store_with_auto_encodes_each_text_once_per_model(cpu, tiny_model, monkeypatch):
    cpu(AVX2_ONLY)
    made = []

    class CountingCache(EmbeddingCache):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(retrievers, "EmbeddingCache", CountingCache)
    store = CorpusEmbeddingStore(dtype="auto")

    first = store.encode(tiny_model, TEXTS)
    again = store.encode(tiny_model, TEXTS)

    np.testing.assert_array_equal(first, again)
    assert len(made) == 1  # "auto" vs the cache's resolved "float32" does not look like a change of precision
    assert made[0].dtype == "float32" and made[0].texts_encoded == len(TEXTS)
