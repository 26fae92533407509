"""Augmentations: what each edit may change, seeding, kept columns, Chinese words, the datasets form, validation."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from datasets import Dataset

from st_plus.augment import (
    AugmentTransform,
    CutoffAugmenter,
    EdaAugmenter,
    WordRepetitionAugmenter,
    augment_rows,
    join_words,
    load_synonyms,
    split_words,
    unsupervised_pairs,
)

EN = "a small tool to list the files of a directory tree quickly and in colour"
ZH = "这是一个 Linux 内核模块，用于管理 USB 设备和网络接口。"
ROWS = [{"text": EN, "id": 1, "meta": {"k": [1, 2]}}, {"text": ZH, "id": 2, "meta": None}]


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(word in it for word in short)


@pytest.mark.parametrize("seed", range(20))
def test_repetition_only_doubles_words_in_place(seed):
    words = split_words(EN)
    out = split_words(WordRepetitionAugmenter().augment([EN], seed=seed)[0])
    collapsed = [w for i, w in enumerate(out) if i == 0 or w != out[i - 1] or Counter(words)[w] > 1]
    assert _is_subsequence(words, out) and len(out) - len(words) <= max(2, int(0.32 * len(words)))
    assert Counter(out) - Counter(words) == Counter(out) - Counter(words) & Counter(words)  # no new word
    assert len(collapsed) >= len(words)


@pytest.mark.parametrize("seed", range(20))
def test_cutoff_removes_one_contiguous_span(seed):
    words = split_words(EN)
    out = split_words(CutoffAugmenter(rate=0.2).augment([EN], seed=seed)[0])
    span = round(0.2 * len(words))
    assert len(out) == len(words) - span
    assert any(words[:i] + words[i + span :] == out for i in range(len(words) - span + 1))


def test_cutoff_keeps_one_word_texts_and_never_empties_a_text():
    assert CutoffAugmenter(rate=0.9).augment(["word"], seed=0) == ["word"]
    assert CutoffAugmenter(rate=0.9).augment(["two words"], seed=0)[0] in ("two", "words")


@pytest.mark.parametrize("seed", range(10))
def test_eda_without_synonyms_swaps_or_deletes(seed):
    words = split_words(EN)
    out = split_words(EdaAugmenter().augment([EN], seed=seed)[0])
    swapped = sorted(out) == sorted(words)
    deleted = _is_subsequence(out, words) and 1 <= len(out) <= len(words)
    assert swapped or deleted


def test_eda_synonym_replacement_and_insertion_use_the_dictionary():
    synonyms = {"tool": ["utility"], "quickly": ["fast"]}
    replaced = EdaAugmenter(alpha_sr=0.5, alpha_ri=0, alpha_rs=0, p_rd=0, synonyms=synonyms).augment([EN], seed=1)[0]
    assert "utility" in replaced.split() or "fast" in replaced.split()
    assert len(replaced.split()) == len(EN.split())
    inserted = EdaAugmenter(alpha_sr=0, alpha_ri=0.1, alpha_rs=0, p_rd=0, synonyms=synonyms).augment([EN], seed=1)[0]
    assert len(inserted.split()) == len(EN.split()) + 1 and {"utility", "fast"} & set(inserted.split())


def test_chinese_texts_are_edited_as_jieba_words():
    words = split_words(ZH)
    assert "内核模块" in "".join(words) and len(words) > 5 and join_words(words) == ZH
    out = CutoffAugmenter(rate=0.2).augment([ZH], seed=3)[0]
    assert out == "这是一个 Linux 内核模块，用于管理 USB 设备。"  # the span "和网络接口" (3 jieba words) is cut
    eda = EdaAugmenter(alpha_sr=0.5, alpha_ri=0, alpha_rs=0, p_rd=0, synonyms={"管理": ["控制"]})
    assert eda.augment([ZH], seed=0)[0] == ZH.replace("管理", "控制")


def test_the_same_seed_gives_the_same_rows_and_every_column_is_kept():
    first = augment_rows(ROWS, method="repeat", seed=5, num=2)
    again = augment_rows(list(reversed(ROWS)), method="repeat", seed=5, num=2)
    other = augment_rows(ROWS, method="repeat", seed=6, num=2)
    assert [set(r) for r in first.rows] == [{"text", "id", "meta"}] * 4 and first.rows[0]["meta"] == {"k": [1, 2]}
    by_id = lambda rows: sorted((r["id"], r["text"]) for r in rows)  # noqa: E731
    assert by_id(first.rows) == by_id(again.rows)  # a function of (seed, copy, text), not of the position
    assert by_id(first.rows) != by_id(other.rows)
    assert first.rows[0]["text"] != first.rows[2]["text"] or first.rows[1]["text"] != first.rows[3]["text"]


def test_into_writes_a_new_column_and_lists_are_augmented_item_by_item():
    out = augment_rows(ROWS, method="cutoff", columns=["text"], into="positive", seed=0).rows
    assert out[0]["text"] == EN and out[0]["positive"] != EN
    rows = [{"anchor": "q", "positive": EN, "negative": [EN, ZH]}]
    out = augment_rows(rows, method="cutoff", columns=["negative"], seed=0).rows[0]
    assert out["anchor"] == "q" and out["positive"] == EN and len(out["negative"]) == 2 and out["negative"][0] != EN


def test_the_datasets_transform_agrees_with_augment_rows():
    expected = augment_rows(ROWS, method="eda", seed=9).rows
    dataset = Dataset.from_list([{"text": r["text"], "id": r["id"]} for r in ROWS])
    mapped = dataset.map(AugmentTransform("eda", columns=["text"], seed=9), batched=True)
    assert mapped["text"] == [r["text"] for r in expected] and mapped["id"] == [1, 2]
    lazy = dataset.with_transform(AugmentTransform("eda", columns=["text"], seed=9))
    assert lazy[:]["text"] == mapped["text"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: augment_rows(ROWS, method="shuffle"), "`method` must be one of"),
        (lambda: augment_rows(ROWS, method="repeat", dup_rate=0), "`dup_rate` must be in"),
        (lambda: augment_rows(ROWS, method="cutoff", rate=1.5), "`rate` must be in"),
        (lambda: augment_rows(ROWS, method="cutoff", colour=1), "Bad option for method 'cutoff'"),
        (lambda: augment_rows(ROWS, method="eda", alpha_rs=0, p_rd=0), "Without `synonyms`"),
        (lambda: augment_rows(ROWS, method="repeat", columns=["id"]), "row 1: `id` must be a string"),
        (lambda: augment_rows(ROWS, method="repeat", into="id"), "`into` needs exactly one column"),
        (lambda: augment_rows([{"x": "y"}], method="repeat"), "No `text` or `positive` column"),
        (lambda: augment_rows(ROWS, method="repeat", num=0), "`num` must be >= 1"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument_and_the_fix(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_synonym_files_in_json_and_group_formats(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"tool": ["utility", "tool"]}))
    assert load_synonyms(tmp_path / "s.json") == {"tool": ["utility"]}
    (tmp_path / "s.txt").write_text("Aa01A01= 人 士 人物\nAa01A02@ 孤\nfast, quick\n", encoding="utf-8")
    groups = load_synonyms(tmp_path / "s.txt")
    assert groups["人"] == ["士", "人物"] and groups["quick"] == ["fast"] and "孤" not in groups
    (tmp_path / "bad.txt").write_text("fast quick\nlonely\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: a synonym group needs at least two words"):
        load_synonyms(tmp_path / "bad.txt")


def test_unsupervised_pairs_from_a_text_only_file(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": t, "g": i % 2}) + "\n" for i, t in enumerate([EN, ZH, EN])))
    simcse = unsupervised_pairs(path, "simcse", keep_columns=["g"])
    assert simcse.column_names == ["anchor", "positive", "g"] and simcse["anchor"] == simcse["positive"] == [EN, ZH]
    repeat = unsupervised_pairs(path, "repeat", seed=1)
    assert repeat["anchor"] == [EN, ZH] and repeat["positive"] == WordRepetitionAugmenter().augment([EN, ZH], seed=1)
    plain = tmp_path / "texts.txt"
    plain.write_text(f"{EN}\n\n{ZH}\n", encoding="utf-8")
    assert unsupervised_pairs(plain, "cutoff")["anchor"] == [EN, ZH]
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"body": "no text"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: field 'text': missing"):
        unsupervised_pairs(tmp_path / "bad.jsonl", "simcse")
