"""series_keys: a pattern's first match in each document id, small series shared."""

from __future__ import annotations

import re

import pytest

from st_plus.samplers import series_keys


def test_series_keys_by_hand():
    docs = ["ES2002a", "ES2002a", "ES2016b", "IS1000a", "Bmr013", "Bmr014", "covid_0", "education_1"]
    assert series_keys(docs, "^[A-Za-z]+") == ["ES", "ES", "ES", "IS", "Bmr", "Bmr", "covid", "education"]
    # series with fewer than two distinct documents share the key None; rows of one document count once
    assert series_keys(docs, "^[A-Za-z]+", min_documents=2) == ["ES", "ES", "ES", None, "Bmr", "Bmr", None, None]


def test_an_id_without_a_match_is_its_own_series_and_bad_patterns_raise():
    assert series_keys(["123", "a1", "a2"], "^[a-z]+") == ["123", "a", "a"]
    with pytest.raises(ValueError, match="matches the empty string"):
        series_keys(["xz"], "z*")  # its first match in "xz" is empty: it would name no series
    with pytest.raises(re.error):
        series_keys(["x"], "([a-z]")
