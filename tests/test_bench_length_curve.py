"""benchmarks/bench_length_curve.py: synthetic passkey / needle documents of the requested length, one needle each."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_length_curve.py"


@pytest.mark.parametrize("kind", ["passkey", "needle"])
def test_documents_have_the_length_and_exactly_their_own_needle(kind, tiny_bert):
    bench = load_script(SCRIPT, "bench_length_curve")
    sentences = bench._filler_sentences(0)
    queries, corpus, qrels = bench.synthetic_task(kind, 300, 6, tiny_bert.tokenizer, sentences, 0)
    assert len(queries) == len(corpus) == 6 and all(qrels[q] == {f"d{q[1:]}": 1} for q in queries)
    for i in range(6):
        text = corpus[f"d{i}"]
        n = len(tiny_bert.tokenizer(text, add_special_tokens=False)["input_ids"])
        assert 290 <= n + 2 <= 310  # the length, up to tokens merged or split where sentences are joined
        if kind == "passkey":
            name = queries[f"q{i}"].removeprefix("What is the pass key of ").rstrip("?")
            assert text.count(f"The pass key of {name} is") == 1
            assert all(f"pass key of {other}" not in text for other in bench.NAMES[:6] if other != name)
    again = bench.synthetic_task(kind, 300, 6, tiny_bert.tokenizer, sentences, 0)
    assert again == (queries, corpus, qrels)  # seeded
    other_fillers = bench.synthetic_task(kind, 300, 6, tiny_bert.tokenizer, sentences, 1)[1]
    assert other_fillers != corpus
