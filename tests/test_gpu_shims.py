"""benchmarks/gpu_shims/faiss: the exact stand-in for faiss' IndexFlatIP gives faiss' answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests_helpers import load_script

SHIM = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_shims" / "faiss" / "__init__.py"


def _shim():
    return load_script(SHIM, "faiss_shim")


def test_shim_search_equals_faiss_index_flat_ip():
    faiss = pytest.importorskip("faiss")
    shim = _shim()
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((300, 16)).astype(np.float32)
    queries = rng.standard_normal((45, 16)).astype(np.float32)
    real, stand_in = faiss.IndexFlatIP(16), shim.IndexFlatIP(16)
    real.add(docs[:200])
    real.add(docs[200:])
    stand_in.add(docs[:200])
    stand_in.add(docs[200:])
    expected_scores, expected = real.search(queries, 7)
    scores, found = stand_in.search(queries, 7, chunk=8)
    assert stand_in.ntotal == real.ntotal == 300
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    with pytest.raises(ValueError, match="expected vectors of shape"):
        stand_in.add(docs[:, :8])
