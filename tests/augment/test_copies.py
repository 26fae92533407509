"""Augmented copies as extra rows: every original kept, copies tied to their original by a group key."""

from __future__ import annotations

import pytest
from datasets import Dataset

from st_plus.augment import COPY_GROUP_COLUMN, augment_rows, with_augmented_copies

ROWS = [
    {"anchor": "list files", "positive": "a small tool to list the files of a folder", "negative_1": "a web browser"},
    {"anchor": "edit text", "positive": "a text editor for the terminal with syntax colours", "negative_1": "a game"},
    {"anchor": "play music", "positive": "an audio player that reads many file formats", "negative_1": "a compiler"},
]


def test_copies_follow_the_originals_and_share_a_new_group_with_them():
    rows, group = with_augmented_copies(Dataset.from_list(ROWS), method="cutoff", seed=3, num=2)
    assert group == COPY_GROUP_COLUMN and len(rows) == 9
    assert rows.select(range(3)).remove_columns(group).to_list() == ROWS  # originals first, unchanged
    assert rows[group] == ["0", "1", "2"] * 3
    expected = augment_rows(ROWS, method="cutoff", seed=3, columns=["positive"], num=2).rows
    assert rows.select(range(3, 9)).remove_columns(group).to_list() == expected  # the offline function's output
    for i in range(3, 9):  # only the positive changes
        original = ROWS[i % 3]
        assert rows[i]["anchor"] == original["anchor"] and rows[i]["negative_1"] == original["negative_1"]
        assert rows[i]["positive"] != original["positive"]


def test_an_existing_group_column_is_kept_for_the_copies():
    data = Dataset.from_list([{**row, "source": f"pkg{i // 2}"} for i, row in enumerate(ROWS)])
    rows, group = with_augmented_copies(data, method="repeat", seed=1, columns=["positive", "negative_1"],
                                        group_column="source")  # fmt: skip
    assert group == "source" and rows["source"] == ["pkg0", "pkg0", "pkg1"] * 2
    assert rows.column_names == data.column_names


def test_bad_columns_are_named():
    with pytest.raises(ValueError, match=r"Columns \['answer'\] to augment"):
        with_augmented_copies(Dataset.from_list(ROWS), method="cutoff", seed=0, columns=["answer"])
    with pytest.raises(ValueError, match="`group_column` 'source'"):
        with_augmented_copies(Dataset.from_list(ROWS), method="cutoff", seed=0, group_column="source")
