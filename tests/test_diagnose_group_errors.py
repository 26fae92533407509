"""benchmarks/diagnose_group_errors.py: counting top-1 misses caused by a document of the query's own source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "diagnose_group_errors.py"


def test_misses_are_counted_by_where_the_siblings_rank():
    diagnose = load_script(SCRIPT, "diagnose_group_errors").diagnose
    doc_sources = [{"a"}, {"a"}, {"b"}, {"c"}, set()]  # docs 0 and 1: two packages of source a
    relevant = [{0}, {1}, {2}, {3}]
    scores = np.array([
        [0.9, 0.5, 0.1, 0.0, 0.0],  # hit
        [0.9, 0.5, 0.1, 0.0, 0.0],  # miss, its sibling (doc 0) on top
        [0.1, 0.2, 0.5, 0.0, 0.9],  # miss, no sibling above (doc 4 has no source)
        [0.9, 0.0, 0.0, 0.5, 0.1],  # miss, doc 0 on top is of another source
    ])  # fmt: skip
    assert diagnose(scores, relevant, doc_sources) == {
        "queries": 4, "top1_misses": 3, "misses_with_a_sibling_above": 1, "misses_with_a_sibling_on_top": 1,
        "documents": 5, "documents_sharing_a_source": 2,
    }  # fmt: skip
