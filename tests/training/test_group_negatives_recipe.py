"""A recipe whose stage-2 retrieval task takes negatives from the rows' own groups (``negatives.group_negatives``)."""

from __future__ import annotations

import json

from pipeline_fixtures import RECIPE, write_tiny_recipe

from st_plus.data import write_jsonl
from st_plus.mining import mine_hybrid_negatives
from st_plus.training import run_recipe
from st_plus.training.recipe import load_recipe

GROUPED = RECIPE.replace(
    "negatives: {num_negatives: 2, range_min: 1, range_max: 10, refresh_steps: 2}",
    "negatives: {num_negatives: 2, group_negatives: 1, corpus: [data/pool.jsonl], corpus_fields: [positive],\n"
    "                    corpus_group_field: source, range_min: 1, range_max: 10, refresh_steps: 2}",
).replace("filter: {top_k: 3}", "filter: null")


def test_the_pipeline_mines_same_group_negatives_from_the_pools_groups(tmp_path, tiny_bert_dir, monkeypatch):
    from st_plus.training import stages

    captured = []

    def mine(*args, **kwargs):
        captured.append(mine_hybrid_negatives(*args, **kwargs))
        return captured[-1]

    monkeypatch.setattr(stages, "mine_hybrid_negatives", mine)
    assert GROUPED != RECIPE
    recipe_file = write_tiny_recipe(tmp_path, tiny_bert_dir, GROUPED)
    pairs_file = tmp_path / "data" / "pairs.jsonl"
    pairs = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    # one row alone in its source (s_alone): only the pool knows its sibling, so it needs the pool's groups
    pairs.append({"anchor": "lonely title", "positive": "the lonely package's description", "source": "s_alone"})
    write_jsonl(pairs_file, pairs)
    # the pool: for each source one more package that no training row has as its positive
    pool = [{"anchor": f"extra {s}", "positive": f"another package of source {s}", "source": s}
            for s in sorted({p["source"] for p in pairs})]  # fmt: skip
    write_jsonl(tmp_path / "data" / "pool.jsonl", pool)
    result = run_recipe(load_recipe(recipe_file), output_dir=tmp_path / "out", show_progress_bar=False)
    state = json.loads((result.output_dir / "pipeline_state.json").read_text())
    mining = state["done"]["multitask"]["mining"]["pairs"]
    # every row's source has a pool package (and all but one other rows): each kept row takes one same-source
    # negative (a few rows are dropped: the tiny model scores most documents within 0.95x their positive)
    assert mining["rows_out"] >= 18
    assert mining["rows_with_group_negatives"] == mining["group_negatives"] == mining["rows_out"]
    # the lonely row got its pool sibling first: what only `corpus_group_field` tells the miner
    mined = {row["anchor"]: row for row in captured[0].dataset}
    assert mined["lonely title"]["negative_1"] == "another package of source s_alone"
    assert state["done"]["multitask"]["steps"] == 6
