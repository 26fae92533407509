"""benchmarks/bench_recipe_vs_st.py: the ablation arms (no filter, merged) and their paired comparisons, by hand."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import types
from pathlib import Path

import pytest
import torch
from tests_helpers import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_recipe_vs_st.py"


@pytest.fixture(scope="module")
def bench():
    return load_script(SCRIPT, "bench_recipe_vs_st")


def test_nofilter_arm_drops_only_the_filter(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.RECIPE)
    assert recipe.stages.contrastive.filter is not None
    plain = bench._variant(recipe, "st_plus", 43)
    nofilter = bench._variant(recipe, "st_plus_nofilter", 43)
    assert nofilter.stages.contrastive.filter is None and nofilter.seed == 43
    assert nofilter.stages.multitask == plain.stages.multitask  # dynamic negatives and STS kept
    unfiltered = dataclasses.replace(nofilter.stages.contrastive, filter=plain.stages.contrastive.filter)
    assert unfiltered == plain.stages.contrastive  # nothing else of stage 1 changed


def test_stage1x3_arm_is_the_unfiltered_recipe_with_three_stage1_epochs(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.RECIPE)
    nofilter = bench._variant(recipe, "st_plus_nofilter", 44)
    longer = bench._variant(recipe, "st_plus_stage1x3", 44)
    assert longer.stages.contrastive.epochs == 3.0 and longer.stages.contrastive.max_steps is None
    assert dataclasses.replace(longer.stages.contrastive, epochs=nofilter.stages.contrastive.epochs) == (
        nofilter.stages.contrastive)  # fmt: skip
    assert longer.stages.multitask == nofilter.stages.multitask and longer.seed == 44


def test_allrows_arm_mines_for_every_stage1_pair_once_in_one_stage2_epoch(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.RECIPE)
    nofilter = bench._variant(recipe, "st_plus_nofilter", 42)
    allrows = bench._variant(recipe, "st_plus_allrows", 42)
    assert allrows.stages.contrastive == nofilter.stages.contrastive and allrows.seed == 42
    assert allrows.stages.multitask.epochs == 1.0 and nofilter.stages.multitask.epochs == 2.0
    debian, stsb = allrows.stages.multitask.tasks
    debian_before, stsb_before = nofilter.stages.multitask.tasks
    assert debian_before.rows == 512 and debian.rows is None  # every stage-1 pair
    assert debian.negatives == dataclasses.replace(debian_before.negatives, dynamic=False)
    assert stsb == stsb_before
    assert dataclasses.replace(allrows.stages.multitask, epochs=2.0, tasks=nofilter.stages.multitask.tasks) == (
        nofilter.stages.multitask)  # fmt: skip


def test_siblings_arm_is_the_unfiltered_recipe_with_same_source_negatives_on_the_debian_task(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.RECIPE)
    nofilter = bench._variant(recipe, "st_plus_nofilter", 43)
    siblings = bench._variant(recipe, "st_plus_siblings", 43)
    assert siblings.stages.contrastive == nofilter.stages.contrastive and siblings.seed == 43
    debian, stsb = siblings.stages.multitask.tasks
    debian_before, stsb_before = nofilter.stages.multitask.tasks
    assert debian_before.negatives.group_negatives == 0 and debian_before.negatives.corpus_group_field is None
    assert debian.negatives == dataclasses.replace(debian_before.negatives, corpus_group_field="source",
                                                   group_negatives=3)  # fmt: skip
    assert dataclasses.replace(debian, negatives=debian_before.negatives) == debian_before and stsb == stsb_before
    static = bench._variant(recipe, "st_plus_siblings_static", 43)  # the same, negatives mined once
    assert debian.negatives.dynamic and not static.stages.multitask.tasks[0].negatives.dynamic
    assert static.stages.multitask.tasks[0].negatives == dataclasses.replace(debian.negatives, dynamic=False)
    assert dataclasses.replace(static.stages.multitask, tasks=[debian, stsb]) == siblings.stages.multitask
    assert static.stages.contrastive == siblings.stages.contrastive


def test_probe_arms_change_only_the_stage2_learning_rate_or_its_rows_and_epochs(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.RECIPE)
    static = bench._variant(recipe, "st_plus_siblings_static", 42)
    lr = bench._variant(recipe, "st_plus_siblings_lr", 42)
    assert lr.stages.multitask.learning_rate == 5e-5 != static.stages.multitask.learning_rate
    assert dataclasses.replace(lr.stages.multitask, learning_rate=2e-5) == static.stages.multitask
    assert lr.stages.contrastive == static.stages.contrastive
    wide = bench._variant(recipe, "st_plus_siblings_wide", 42)
    debian, stsb = wide.stages.multitask.tasks
    debian_static, stsb_static = static.stages.multitask.tasks
    assert (debian.rows, debian_static.rows) == (1024, 512) and not debian.negatives.dynamic
    assert dataclasses.replace(debian, rows=512) == debian_static
    assert (stsb.data.rows, stsb_static.data.rows) == (None, 512)  # every shipped STS-B row
    assert dataclasses.replace(stsb, data=dataclasses.replace(stsb.data, rows=512)) == stsb_static
    assert (wide.stages.multitask.epochs, static.stages.multitask.epochs) == (1.0, 2.0)
    assert wide.stages.multitask.learning_rate == static.stages.multitask.learning_rate
    assert wide.stages.contrastive == static.stages.contrastive


def test_prompts_arm_is_the_unfiltered_recipe_with_nomic_prefixes_on_the_retrieval_rows_only(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.RECIPE)
    nofilter = bench._variant(recipe, "st_plus_nofilter", 42)
    prompts = bench._variant(recipe, "st_plus_prompts", 43)
    prefixes = {"query": "search_query: ", "document": "search_document: "}
    assert prompts.seed == 43 and prompts.stages.contrastive.filter is None
    assert prompts.stages.contrastive.prompts == prefixes and nofilter.stages.contrastive.prompts == {}
    assert dataclasses.replace(prompts.stages.contrastive, prompts={}) == nofilter.stages.contrastive
    debian, stsb = prompts.stages.multitask.tasks
    debian_before, stsb_before = nofilter.stages.multitask.tasks
    assert debian == dataclasses.replace(debian_before, prompts=prefixes) and stsb == stsb_before
    assert dataclasses.replace(prompts.stages.multitask, tasks=nofilter.stages.multitask.tasks) == (
        nofilter.stages.multitask)  # fmt: skip
    query_only = bench._variant(recipe, "st_plus_query_prompt", 43)
    assert query_only.stages.contrastive.prompts == {"query": "search_query: "}
    assert query_only.stages.multitask.tasks[0].prompts == {"query": "search_query: "}
    assert dataclasses.replace(query_only.stages.contrastive, prompts=prefixes) == prompts.stages.contrastive
    assert query_only.stages.multitask.tasks[1] == stsb_before


@pytest.mark.parametrize("arm_prompts", [None, {"query": "search_query: ", "document": "search_document: "}])
def test_plain_arm_trains_with_the_prefixes_it_is_given_and_saves_them_in_the_model(
    bench, tiny_bert, tmp_path, monkeypatch, arm_prompts
):
    import sentence_transformers
    from datasets import Dataset

    start = tmp_path / "start"
    tiny_bert.save(str(start))
    texts = [f"text number {i} about topic {i % 5}" for i in range(24)]
    rows = {"stage1": Dataset.from_dict({"anchor": texts[:12], "positive": texts[12:]}),
            "stsb": Dataset.from_dict({"sentence1": texts[:8], "sentence2": texts[8:16], "score": [0.5] * 8})}
    monkeypatch.setattr(bench, "_plain_rows", lambda recipe, seed: (rows, None, []))
    seen = []

    class Trainer(sentence_transformers.SentenceTransformerTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(self.args.prompts)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformerTrainer", Trainer)
    recipe = types.SimpleNamespace(
        model=types.SimpleNamespace(base=str(start), max_seq_length=32), precision="fp32",
        stages=types.SimpleNamespace(multitask=types.SimpleNamespace(batch_size=4)),
    )  # fmt: skip
    done = bench._run_plain(recipe, 42, 8.0, tmp_path / "plain", arm_prompts)
    from sentence_transformers import SentenceTransformer

    saved = SentenceTransformer(str(tmp_path / "plain" / "model"), device="cpu")
    assert done["info"]["steps"] > 0
    if arm_prompts is None:
        assert seen == [None] and not any(saved.prompts.values())
    else:
        assert seen == [{"stage1": {"anchor": "search_query: ", "positive": "search_document: "}}]
        assert {k: saved.prompts[k] for k in arm_prompts} == arm_prompts


def test_merged_arm_averages_the_run_model_with_the_start_model(bench, tiny_model, tmp_path):
    trained = tmp_path / "st_plus-43" / "run" / "model"
    start = tmp_path / "start"
    tiny_model.save(str(start))
    moved = copy.deepcopy(tiny_model)  # the fixture is shared by the session: never changed in place
    with torch.no_grad():
        for parameter in moved.parameters():
            parameter.add_(1.0)
    moved.save(str(trained))
    result = {"arm": "st_plus", "seed": 43, "seconds": 100.0, "info": {"model_path": "run/model", "steps": {"a": 3}}}
    (tmp_path / "st_plus-43" / "result.json").write_text(json.dumps(result), encoding="utf-8")
    recipe = types.SimpleNamespace(model=types.SimpleNamespace(base=str(start)))

    source = bench._merge_source(tmp_path / "st_plus-43", 43, 0.7)
    done = bench._run_merged(recipe, tmp_path / "st_plus-43", source, 0.7)

    from sentence_transformers import SentenceTransformer

    a = SentenceTransformer(str(trained)).state_dict()
    b = SentenceTransformer(str(start)).state_dict()
    merged = done["model"].state_dict()
    for name, value in merged.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.7 * a[name] + 0.3 * b[name])
    assert done["seconds"] >= 100.0 and done["info"]["source_seed"] == 43
    assert done["info"]["weight"] == 0.7 and done["info"]["steps"] == {"a": 3}
    assert "source_arm" not in done["info"]  # an st_plus run's record, as before stop 47
    result["arm"] = "st_plus_siblings_short"  # any training st_plus arm merges too (stop 47), and says which it was
    (tmp_path / "st_plus-43" / "result.json").write_text(json.dumps(result), encoding="utf-8")
    source = bench._merge_source(tmp_path / "st_plus-43", 43, 0.7)
    assert bench._run_merged(recipe, tmp_path / "st_plus-43", source, 0.7)["info"]["source_arm"] == result["arm"]


def test_merged_run_refuses_a_source_run_of_another_recipe(bench, tmp_path, monkeypatch):
    source = tmp_path / "st_plus_siblings_short-42"
    source.mkdir()
    done = {"arm": "st_plus_siblings_short", "seed": 42, "seconds": 1.0, "info": {"model_path": "run/model"},
            "recipe": "benchmarks/recipes/recipe_vs_st.yaml"}  # fmt: skip
    (source / "result.json").write_text(json.dumps(done), encoding="utf-8")
    monkeypatch.setattr(bench, "_load_recipe", lambda args: None)
    monkeypatch.setattr(bench, "_run_merged", lambda *a, **k: pytest.fail("merged a run of another recipe"))
    args = types.SimpleNamespace(arm="st_plus_merged", seed=42, merge_from=source, merge_weight=0.85,
                                 recipe=bench.REPO / "benchmarks" / "recipes" / "recipe_vs_st_x4.yaml",
                                 out=tmp_path / "merged", budget_from=None, dev_tasks=None, base=None)  # fmt: skip
    with pytest.raises(SystemExit, match="trained on benchmarks/recipes/recipe_vs_st.yaml, not on --recipe "
                                         "benchmarks/recipes/recipe_vs_st_x4.yaml"):
        bench.run(args)
    assert not (tmp_path / "merged").exists()


def test_short_arm_is_the_noattn_arm_with_stage2_read_once(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.RECIPE)
    noattn = bench._variant(recipe, "st_plus_siblings_noattn", 42)
    short = bench._variant(recipe, "st_plus_siblings_short", 42)
    assert (short.stages.multitask.epochs, noattn.stages.multitask.epochs) == (1.0, 2.0)
    assert dataclasses.replace(short.stages.multitask, epochs=2.0) == noattn.stages.multitask
    assert short.stages.contrastive == noattn.stages.contrastive
    assert short.stages.multitask.attention_dropout == short.stages.contrastive.attention_dropout == 0.0
    assert not short.stages.multitask.tasks[0].negatives.dynamic  # static: nothing for a second read to pick up


def test_stage1_merged_arm_averages_a_run_model_with_its_own_stage1_model(bench, tiny_model, tmp_path):
    run = tmp_path / "st_plus_siblings_noattn-44"
    final, stage1 = run / "run" / "model", run / "run" / "stages" / "contrastive" / "model"
    moved = copy.deepcopy(tiny_model)  # the fixture is shared by the session: never changed in place
    with torch.no_grad():
        for parameter in moved.parameters():
            parameter.add_(1.0)
    moved.save(str(final))
    tiny_model.save(str(stage1))
    result = {"arm": "st_plus_siblings_noattn", "seed": 44, "seconds": 100.0, "info": {"model_path": "run/model"}}
    (run / "result.json").write_text(json.dumps(result), encoding="utf-8")
    recipe = types.SimpleNamespace(model=types.SimpleNamespace(base="unused: the partner is the stage-1 model"))

    source = bench._merge_source(run, 44, 0.7, "st_plus_merged_stage1")
    done = bench._run_merged(recipe, run, source, 0.7, "st_plus_merged_stage1")

    a, b = moved.state_dict(), tiny_model.state_dict()
    for name, value in done["model"].state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, 0.7 * a[name] + 0.3 * b[name])
    assert done["seconds"] >= 100.0 and done["info"]["source_arm"] == "st_plus_siblings_noattn"
    assert bench._merge_source(run, 44, 0.7) == source  # the start-model merge takes any training st_plus arm too
    shutil.rmtree(stage1)
    with pytest.raises(SystemExit, match="no stage-1 model"):
        bench._merge_source(run, 44, 0.7, "st_plus_merged_stage1")
    result["arm"] = "plain_bf16_noattn"
    (run / "result.json").write_text(json.dumps(result), encoding="utf-8")
    with pytest.raises(SystemExit, match="merges a run of the recipe's two stages"):
        bench._merge_source(run, 44, 0.7, "st_plus_merged_stage1")


def test_a_plain_budget_from_a_merged_arms_source_run_pairs_with_the_merged_arm(bench):
    plain = {"info": {"budget_seconds": 321.5}}
    assert bench._budget_from(plain, {"seconds": 321.5, "info": {}})
    assert bench._budget_from(plain, {"seconds": 322.0, "info": {"source_seconds": 321.5}})  # + the merge's 0.5 s
    assert not bench._budget_from(plain, {"seconds": 322.0, "info": {}})
    assert not bench._budget_from(plain, {"seconds": 300.0, "info": {"source_seconds": 299.5}})
    assert bench._budget_from({"info": {}}, {"seconds": 1.0, "info": {}})  # runs from before budgets were recorded


@pytest.mark.parametrize(
    ("arm", "info", "seed", "weight", "match"),
    [("st_plus", {"model_path": "run/model"}, 42, 1.0, "between 0 and 1"),
     ("st_plus", {"model_path": "run/model"}, 42, 0.0, "between 0 and 1"),
     ("plain", {"model_path": "run/model"}, 42, 0.7, "an 'plain' run"),
     ("st_plus", {}, 42, 0.7, "does not name its model"),
     ("st_plus", {"model_path": "run/model"}, 44, 0.7, "ran seed 42, not --seed 44")],
)  # fmt: skip
def test_merge_source_is_checked_before_any_work(bench, tmp_path, arm, info, seed, weight, match):
    (tmp_path / "run").mkdir()
    data = {"arm": arm, "seed": 42, "seconds": 1.0, "info": info}
    (tmp_path / "run" / "result.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SystemExit, match=match):
        bench._merge_source(tmp_path / "run", seed, weight)
    with pytest.raises(SystemExit, match="needs --merge-from"):
        bench._merge_source(None, 42, 0.7)
    with pytest.raises(SystemExit, match="no result.json"):
        bench._merge_source(tmp_path / "missing", 42, 0.7)


def _result(folder: Path, arm: str, seed: int, debian: float, sts: float) -> None:
    folder.mkdir(parents=True)
    scores = {"retrieval_debian_dev_en": debian, "sts_stsb_dev_en": sts}
    data = {"arm": arm, "seed": seed, "seconds": 10.0, "info": {}, "scores": scores}
    (folder / "result.json").write_text(json.dumps(data), encoding="utf-8")


def test_report_pairs_the_ablation_arms_by_seed(bench, tmp_path):
    runs = tmp_path / "runs"
    for seed, (d, s) in {42: (80.0, 85.0), 43: (82.0, 86.0)}.items():
        _result(runs / f"st_plus-{seed}", "st_plus", seed, d, s)
        _result(runs / f"st_plus_nofilter-{seed}", "st_plus_nofilter", seed, d - 1.0, s + 0.5)
        _result(runs / f"st_plus_merged-{seed}", "st_plus_merged", seed, d - 2.0, s + 1.0 + (seed - 42))
    output = tmp_path / "out.json"
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE))
    data = json.loads(output.read_text(encoding="utf-8"))
    nofilter = data["comparisons"]["st_plus - st_plus_nofilter"]
    assert nofilter["per_seed"]["retrieval"] == [1.0, 1.0] and nofilter["per_seed"]["all"] == [0.25, 0.25]
    merged = data["comparisons"]["st_plus_merged - st_plus"]
    assert merged["per_seed"]["retrieval"] == [-2.0, -2.0]
    assert merged["per_seed"]["all"] == [-0.5, 0.0]  # (-2 + 1) / 2 and (-2 + 2) / 2
    assert "st_plus_merged - plain" not in data["comparisons"]  # no plain runs here
    assert "| st_plus_nofilter | 2 |" in bench._table(data)


def test_report_pairs_the_unfiltered_and_merged_recipes_with_plain(bench, tmp_path):
    runs = tmp_path / "runs"
    for seed in (42, 43):
        _result(runs / f"st_plus_nofilter-{seed}", "st_plus_nofilter", seed, 82.0 + seed - 42, 86.0)
        _result(runs / f"st_plus_merged-{seed}", "st_plus_merged", seed, 81.0, 86.0)
        _result(runs / f"plain-{seed}", "plain", seed, 81.5, 85.5)
        _result(runs / f"st_plus_stage1x3-{seed}", "st_plus_stage1x3", seed, 83.0, 86.0)
        _result(runs / f"st_plus_allrows-{seed}", "st_plus_allrows", seed, 82.5, 86.5)
    output = tmp_path / "out.json"
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE))
    comparisons = json.loads(output.read_text(encoding="utf-8"))["comparisons"]
    assert comparisons["st_plus_stage1x3 - plain"]["per_seed"]["retrieval"] == [1.5, 1.5]
    assert comparisons["st_plus_stage1x3 - st_plus_nofilter"]["per_seed"]["retrieval"] == [1.0, 0.0]
    assert comparisons["st_plus_nofilter - plain"]["per_seed"]["retrieval"] == [0.5, 1.5]
    assert comparisons["st_plus_allrows - plain"]["per_seed"]["retrieval"] == [1.0, 1.0]
    assert comparisons["st_plus_allrows - st_plus_nofilter"]["per_seed"]["retrieval"] == [0.5, -0.5]
    assert comparisons["st_plus_merged - plain"]["per_seed"]["all"] == [0.0, 0.0]
    assert "st_plus - plain" not in comparisons


def test_report_pairs_a_plain_arm_only_with_the_runs_its_budget_came_from(bench, tmp_path):
    runs = tmp_path / "runs"
    for seed in (42, 43):
        _result(runs / f"st_plus_siblings_noattn-{seed}", "st_plus_siblings_noattn", seed, 83.0, 86.0)
        _result(runs / f"st_plus_siblings_static-{seed}", "st_plus_siblings_static", seed, 82.0, 86.0)
        _result(runs / f"plain_bf16_mining-{seed}", "plain_bf16_mining", seed, 81.0, 85.0)
    for arm in ("st_plus_siblings_noattn", "plain_bf16_mining"):  # noattn ran 10 s; static another length
        for seed in (42, 43):
            path = runs / f"{arm}-{seed}" / "result.json"
            data = json.loads(path.read_text())
            data["info"] = {"budget_seconds": 10.0} if arm.startswith("plain") else {}
            path.write_text(json.dumps(data))
    for seed in (42, 43):
        path = runs / f"st_plus_siblings_static-{seed}" / "result.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "seconds": 12.0 + seed - 42}))
    output = tmp_path / "out.json"
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE, equal_budget_only=True))
    comparisons = json.loads(output.read_text(encoding="utf-8"))["comparisons"]
    assert comparisons["st_plus_siblings_noattn - plain_bf16_mining"]["per_seed"]["retrieval"] == [2.0, 2.0]
    assert "st_plus_siblings_static - plain_bf16_mining" not in comparisons  # its seconds were not the budget
    assert comparisons["st_plus_siblings_noattn - st_plus_siblings_static"]["seeds"] == [42, 43]
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE))  # as reports before stop 45
    comparisons = json.loads(output.read_text(encoding="utf-8"))["comparisons"]
    assert comparisons["st_plus_siblings_static - plain_bf16_mining"]["seeds"] == [42, 43]


def test_report_holds_st_plus_to_the_goal_rows_against_the_strongest_plain_arm(bench, tmp_path):
    runs = tmp_path / "runs"  # full_en.yaml's st_plus arm against plain_bf16_noattn (stop 51)
    for seed, lead in {42: 1.5, 43: -0.5}.items():
        _result(runs / f"st_plus-{seed}", "st_plus", seed, 84.0 + lead, 87.0)
        _result(runs / f"plain_bf16_noattn-{seed}", "plain_bf16_noattn", seed, 84.0, 86.0)
    output = tmp_path / "out.json"
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE))
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["comparisons"]["st_plus - plain_bf16_noattn"]["per_seed"]["retrieval"] == [1.5, -0.5]
    assert data["goals"] == {  # retrieval mean +0.5 with a seed negative; all tasks (+1.25 + 0.25) / 2 = +0.75
        "st_plus >= plain_bf16_noattn + 1.0 on dev retrieval, every seed positive": False,
        "st_plus >= plain_bf16_noattn + 0.5 on the mean of all dev tasks": True}


def test_test_slices_are_the_shipped_english_ones_without_the_long_documents(bench):
    tasks = bench._test_tasks()
    assert [p.name for p in tasks] == list(bench.TEST_TASKS)
    for path in tasks:
        task = json.loads((path / "task.json").read_text(encoding="utf-8"))
        assert task["language"] == "en" and task["eval_split"] == "test"
    shipped_en = {p.name for p in bench.TEST_SLICES.iterdir() if p.name.endswith("_en")}
    assert shipped_en - set(bench.TEST_TASKS) == {"retrieval_qmsum_longdoc_en"}


def _first_weight(model) -> float:
    return float(next(p for p in model.parameters() if p.ndim == 2).detach().double().mean())


def _write_run(folder: Path, arm: str, info: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"arm": arm, "seed": 42, "seconds": 10.0, "info": info, "scores": {"retrieval_debian_dev_en": 1.0}}
    (folder / "result.json").write_text(json.dumps(data), encoding="utf-8")


def test_test_command_scores_each_run_model_once_and_report_pairs_them(bench, tiny_model, tmp_path, monkeypatch):
    runs, start = tmp_path / "runs", tmp_path / "start"
    tiny_model.save(str(start))
    stage1 = runs / "st_plus-42" / "run" / "stages" / "contrastive" / "model"
    for offset, path in ((1.0, runs / "st_plus-42" / "run" / "model"), (2.0, runs / "plain-42" / "model"),
                         (3.0, stage1)):  # fmt: skip
        moved = copy.deepcopy(tiny_model)  # the session fixture is never changed in place
        with torch.no_grad():
            for parameter in moved.parameters():
                parameter.add_(offset)
        moved.save(str(path))
    _write_run(runs / "st_plus-42", "st_plus", {"model_path": "run/model"})
    _write_run(runs / "plain-42", "plain", {})
    _write_run(runs / "start", "start", {})
    _write_run(runs / "st_plus_merged-42", "st_plus_merged", {"source": str(runs / "st_plus-42"), "weight": 0.7})
    _write_run(runs / "st_plus_merged_stage1-42", "st_plus_merged_stage1",
               {"source": str(runs / "st_plus-42"), "weight": 0.5})  # fmt: skip
    calls = []

    def fake_score(model, tasks):
        calls.append([p.name for p in tasks])
        return {"retrieval_debian_en": _first_weight(model), "sts_stsbenchmark_en": 50.0}

    monkeypatch.setattr(bench, "_score", fake_score)
    args = types.SimpleNamespace(folder=runs, recipe=bench.RECIPE, base=start)
    bench.score_test(args)
    assert len(calls) == 5 and all(names == list(bench.TEST_TASKS) for names in calls)
    scored = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in runs.glob("*/test_result.json")}
    w = {name: r["scores"]["retrieval_debian_en"] for name, r in scored.items()}
    assert w["st_plus-42"] == pytest.approx(w["start"] + 1.0, abs=1e-5)
    assert w["plain-42"] == pytest.approx(w["start"] + 2.0, abs=1e-5)
    assert w["st_plus_merged-42"] == pytest.approx(0.7 * w["st_plus-42"] + 0.3 * w["start"], abs=1e-5)
    # merged again with the run's own stage-1 model (start + 3), not with the start model
    assert w["st_plus_merged_stage1-42"] == pytest.approx(0.5 * w["st_plus-42"] + 0.5 * (w["start"] + 3.0), abs=1e-5)
    assert all(r["split"] == "test" and r["seconds"] == 10.0 for r in scored.values())

    bench.score_test(args)  # scored once: a second call skips every run
    assert len(calls) == 5

    output = tmp_path / "test.json"
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE, split="test"))
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["split"] == "test" and data["tasks"] == ["retrieval_debian_en", "sts_stsbenchmark_en"]
    diff = data["comparisons"]["st_plus - plain"]["per_seed"]["retrieval"]
    assert diff == [pytest.approx(-1.0, abs=1e-5)]
    assert data["goals"] == {"st_plus >= plain + 1.0 on test retrieval, every seed positive": False,
                             "st_plus >= plain + 0.5 on the mean of all test tasks": False}  # fmt: skip
    table = bench._table(data)
    assert "| test retrieval (1) | test mean (all) | retrieval_debian | sts_stsbenchmark |" in table


def test_fresh_split_scores_the_given_task_folders_into_their_own_file(bench, tiny_model, tmp_path, monkeypatch):
    runs, start, fresh = tmp_path / "runs", tmp_path / "start", tmp_path / "fresh" / "retrieval_debian_b2_en"
    tiny_model.save(str(start))
    _write_run(runs / "start", "start", {})
    monkeypatch.setattr(bench, "_score", lambda model, tasks: {t.name: 60.0 for t in tasks})
    args = types.SimpleNamespace(folder=runs, recipe=bench.RECIPE, base=start, split="fresh", tasks=None)
    with pytest.raises(SystemExit, match="needs --tasks"):
        bench.score_test(args)
    args.tasks = [fresh]
    with pytest.raises(SystemExit, match="not task folders"):
        bench.score_test(args)
    fresh.mkdir(parents=True)
    (fresh / "task.json").write_text('{"task_type": "Retrieval"}', encoding="utf-8")
    bench.score_test(args)
    scored = json.loads((runs / "start" / "fresh_result.json").read_text(encoding="utf-8"))
    assert scored["split"] == "fresh" and scored["scores"] == {"retrieval_debian_b2_en": 60.0}
    assert scored["tasks"] == [str(fresh)] and not (runs / "start" / "test_result.json").exists()
    output = tmp_path / "fresh.json"
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE, split="fresh"))
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["split"] == "fresh" and data["task_folders"] == [str(fresh)]
    assert "| fresh retrieval (1) | fresh mean (all) | retrieval_debian_b2 |" in bench._table(data)


def test_test_command_refuses_a_run_whose_model_is_gone(bench, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    _write_run(runs / "plain-42", "plain", {})
    monkeypatch.setattr(bench, "_score", lambda model, tasks: pytest.fail("scored a missing model"))
    with pytest.raises(SystemExit, match="the model of this 'plain' run is gone"):
        bench.score_test(types.SimpleNamespace(folder=runs, recipe=bench.RECIPE, base=None))
    with pytest.raises(SystemExit, match="run `test"):
        bench.report(types.SimpleNamespace(folder=runs, output=tmp_path / "x.json", recipe=bench.RECIPE, split="test"))


@pytest.mark.parametrize(
    ("data", "match"),
    [({"variant": "base", "seed": 42, "scores": {}}, "not a run of this script"),
     ({"arm": "st_plus", "seed": 42, "info": {}}, "does not name its model"),
     ({"arm": "st_plus_merged", "seed": 42, "info": {"weight": 0.7}}, "does not name the run it merged"),
     ({"arm": "st_plus_merged_stage1", "seed": 42, "info": {"weight": 0.7, "source": "SOURCE"}}, "no stage-1 model")],
)  # fmt: skip
def test_test_command_checks_every_run_before_scoring_any(bench, tmp_path, monkeypatch, data, match):
    runs, data = tmp_path / "runs", copy.deepcopy(data)  # the parameter is shared: never changed in place
    if data.get("info", {}).get("source") == "SOURCE":  # a finished run whose stage-1 model was deleted
        _write_run(tmp_path / "source", "st_plus_siblings_noattn", {"model_path": "run/model"})
        data["info"]["source"] = str(tmp_path / "source")
    _write_run(runs / "a-start", "start", {})  # sorted first: would be scored first
    (runs / "b-bad").mkdir()
    (runs / "b-bad" / "result.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(bench, "_score", lambda model, tasks: pytest.fail("scored before every run was checked"))
    with pytest.raises(SystemExit, match=match):
        bench.score_test(types.SimpleNamespace(folder=runs, recipe=bench.RECIPE, base=None))
    assert not (runs / "a-start" / "test_result.json").exists()


@pytest.mark.parametrize("arm", ["plain", "plain_bf16_mining", "plain_bf16_noattn", "plain_bf16_noattn_gist"])
def test_plain_bf16_mining_arm_mines_under_bfloat16_autocast_and_trains_as_plain(bench, tiny_bert, tmp_path,
                                                                               monkeypatch, arm):  # fmt: skip
    import contextlib

    import sentence_transformers.util
    from datasets import Dataset

    import st_plus.models

    dropout_p = []

    @contextlib.contextmanager
    def spy(model, p, **kwargs):  # plain_bf16_noattn trains without attention dropout, the others with the model's
        dropout_p.append(p)
        yield 0

    monkeypatch.setattr(st_plus.models, "attention_dropout", spy)

    start = tmp_path / "start"
    tiny_bert.save(str(start))
    texts = [f"text number {i} about topic {i % 5}" for i in range(24)]
    rows = {"stage1": Dataset.from_dict({"anchor": texts[:12], "positive": texts[12:]}),
            "intents": Dataset.from_dict({"anchor": texts[:8], "positive": texts[8:16], "negative_1": texts[16:]})}
    neg = types.SimpleNamespace(corpus=None, corpus_fields=None, range_min=1, range_max=5, num_negatives=1)
    monkeypatch.setattr(bench, "_plain_rows", lambda recipe, seed: (rows, neg, ["intents"]))
    autocast = []
    guides = []

    class Gist(sentence_transformers.sentence_transformer.losses.GISTEmbedLoss):
        def forward(self, features, labels):  # the guide as the loss sees it while training
            guides.append((self.guide.training, any(p.requires_grad for p in self.guide.parameters()),
                           self.guide is self.model))  # fmt: skip
            return super().forward(features, labels)

    monkeypatch.setattr(sentence_transformers.sentence_transformer.losses, "GISTEmbedLoss", Gist)

    class StepClock(st_plus.models.WallClockCallback):
        def on_step_end(self, args, state, control, **kwargs):  # 6 steps, however busy the machine: both datasets
            control.should_training_stop = state.global_step >= 6  # get batches (3 + 2 per proportional round)
            return control

    monkeypatch.setattr(st_plus.models, "WallClockCallback", StepClock)

    def mine(dataset, model, **kwargs):
        autocast.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return dataset

    monkeypatch.setattr(sentence_transformers.util, "mine_hard_negatives", mine)
    monkeypatch.setattr(bench, "_score", lambda model, tasks: {"retrieval_x_dev_en": 1.0})
    monkeypatch.setattr(bench, "_dev_tasks", lambda only=None: [])
    recipe = types.SimpleNamespace(
        model=types.SimpleNamespace(base=str(start), max_seq_length=32), precision="fp32",
        stages=types.SimpleNamespace(multitask=types.SimpleNamespace(batch_size=4)),
    )  # fmt: skip
    monkeypatch.setattr(bench, "_load_recipe", lambda args: recipe)
    budget = tmp_path / "budget"
    budget.mkdir()
    seconds = 60.0  # the budget is only passed through: StepClock ends training
    (budget / "result.json").write_text(json.dumps({"seconds": seconds}))
    args = types.SimpleNamespace(arm=arm, seed=42, out=tmp_path / arm, budget_from=budget, merge_from=None,
                                 merge_weight=0.7, dev_tasks=None)  # fmt: skip
    bench.run(args)
    result = json.loads((tmp_path / arm / "result.json").read_text())
    bf16_mining = arm in ("plain_bf16_mining", "plain_bf16_noattn", "plain_bf16_noattn_gist")
    assert autocast == [bf16_mining] and result["info"]["bf16_mining"] == bf16_mining
    assert dropout_p == [0.0 if arm.startswith("plain_bf16_noattn") else None]
    gist = arm == "plain_bf16_noattn_gist"  # the label triplets only; the guide frozen, in eval mode, not the model
    assert result["info"]["losses"] == {"stage1": "MultipleNegativesRankingLoss",
                                        "intents": "Gist" if gist else "MultipleNegativesRankingLoss"}  # fmt: skip
    assert (bool(guides), set(guides)) == ((True, {(False, False, False)}) if gist else (False, set()))
    assert result["info"]["attention_dropout"] == dropout_p[0]
    assert result["info"]["budget_seconds"] == seconds and result["info"]["steps"] == 6
    assert result["recipe"] == "benchmarks/recipes/recipe_vs_st.yaml"  # the default --recipe, named in the result
    assert not torch.is_autocast_enabled("cpu")  # only around the mining



class _FakeRun:
    """A ``run`` subprocess: finishes at its ``polls``-th ``poll()`` by writing its ``result.json`` (or fails)."""

    events: list[tuple[str, str]] = []
    commands: dict[str, list[str]] = {}
    durations: dict[str, int] = {}
    fail: tuple[str, ...] = ()
    no_result: tuple[str, ...] = ()

    def __init__(self, command, stdout=None, stderr=None, env=None):
        self.out = Path(command[command.index("--out") + 1])
        self.name, self.seen, self.terminated = self.out.name, 0, False
        assert env["OMP_NUM_THREADS"] == "1" and not stdout.closed
        _FakeRun.commands[self.name] = self.command = command
        _FakeRun.events.append(("start", self.name))

    def poll(self):
        if self.terminated:
            return -15
        self.seen += 1
        if self.seen < _FakeRun.durations.get(self.name, 2):
            return None
        failed = self.name in _FakeRun.fail
        if not failed and self.name not in _FakeRun.no_result:
            self.out.mkdir(parents=True, exist_ok=True)
            recipe = _FakeRun.recipe_name(Path(self.command[self.command.index("--recipe") + 1]))
            (self.out / "result.json").write_text(json.dumps({"recipe": recipe}), encoding="utf-8")  # as `run` does
        _FakeRun.events.append(("done", self.name))
        return 1 if failed else 0

    def terminate(self):
        self.terminated = True
        _FakeRun.events.append(("terminated", self.name))

    def wait(self):
        return -15


@pytest.fixture
def fake_run(bench):
    _FakeRun.events, _FakeRun.commands, _FakeRun.durations = [], {}, {}
    _FakeRun.recipe_name = staticmethod(bench._recipe_name)
    _FakeRun.fail, _FakeRun.no_result = (), ()
    return _FakeRun


def _lane_args(out, **kw):
    base = {"arm": "st_plus_siblings_short", "plain": "plain_bf16_noattn", "seeds": [42, 43, 44], "out": out,
            "lanes": 2, "poll_seconds": 0.0, "recipe": Path("r.yaml"), "base": None}  # fmt: skip
    return types.SimpleNamespace(**{**base, **kw})


def _together(events):
    """The sets of runs that were running at once, each time a run started."""
    running, sets = set(), []
    for kind, name in events:
        if kind == "start":
            running.add(name)
            sets.append(set(running))
        else:
            running.discard(name)
    return sets


S, P = "st_plus_siblings_short", "plain_bf16_noattn"


def test_lanes_runs_the_stop_46_slots_each_plain_run_on_its_seeds_budget(bench, tmp_path, fake_run):
    import sys

    fake_run.durations = {f"{S}-42": 3, f"{S}-43": 2}  # 43 ends first: its lane takes st_plus 44, not a plain run
    bench.lanes(_lane_args(tmp_path), popen=fake_run)
    starts = [name for kind, name in fake_run.events if kind == "start"]
    assert starts == [f"{S}-42", f"{S}-43", f"{S}-44", f"{P}-42", f"{P}-43", f"{P}-44"]
    assert _together(fake_run.events)[-1] == {f"{P}-43", f"{P}-44"}
    assert {f"{S}-44", f"{P}-42"} in _together(fake_run.events)
    for seed in (42, 43, 44):
        events = fake_run.events
        assert events.index(("done", f"{S}-{seed}")) < events.index(("start", f"{P}-{seed}"))
        plain, st = fake_run.commands[f"{P}-{seed}"], fake_run.commands[f"{S}-{seed}"]
        assert plain[plain.index("--budget-from") + 1] == str(tmp_path / f"{S}-{seed}")
        assert "--budget-from" not in st
        assert st[:3] == [sys.executable, str(SCRIPT), "run"]
        assert st[st.index("--recipe") + 1] == "r.yaml" and st[st.index("--seed") + 1] == str(seed)
    assert (tmp_path / f"{P}-44.log").is_file()
    fake_run.events = []
    bench.lanes(_lane_args(tmp_path), popen=fake_run)  # every result.json exists: nothing runs again
    assert fake_run.events == []


def test_lanes_resumes_with_the_plain_runs_of_finished_st_plus_runs(bench, tmp_path, fake_run):
    for seed in (42, 43, 44):
        (tmp_path / f"{S}-{seed}").mkdir()
        done = {"arm": S, "recipe": bench._recipe_name(Path("r.yaml"))}
        (tmp_path / f"{S}-{seed}" / "result.json").write_text(json.dumps(done), encoding="utf-8")
    bench.lanes(_lane_args(tmp_path), popen=fake_run)
    assert [name for kind, name in fake_run.events if kind == "start"] == [f"{P}-42", f"{P}-43", f"{P}-44"]
    assert _together(fake_run.events)[:2] == [{f"{P}-42"}, {f"{P}-42", f"{P}-43"}]


def test_lanes_refuses_a_folder_whose_finished_runs_trained_on_another_recipe(bench, tmp_path, fake_run):
    (tmp_path / f"{S}-43").mkdir()
    done = {"arm": S, "recipe": "benchmarks/recipes/recipe_vs_st.yaml"}
    (tmp_path / f"{S}-43" / "result.json").write_text(json.dumps(done), encoding="utf-8")
    with pytest.raises(SystemExit, match=f"{S}-43/result.json: trained on benchmarks/recipes/recipe_vs_st.yaml"):
        bench.lanes(_lane_args(tmp_path), popen=fake_run)
    assert fake_run.events == []


def test_lanes_lets_running_runs_finish_after_a_failure_starts_nothing_more_and_names_its_log(bench, tmp_path,
                                                                                               fake_run):  # fmt: skip
    fake_run.fail, fake_run.durations = (f"{S}-42",), {f"{S}-42": 1, f"{S}-43": 3}
    with pytest.raises(SystemExit, match=rf"failed: .*{S}-42\.log"):
        bench.lanes(_lane_args(tmp_path), popen=fake_run)
    assert [name for kind, name in fake_run.events if kind == "start"] == [f"{S}-42", f"{S}-43"]
    assert ("done", f"{S}-43") in fake_run.events  # waited for, not abandoned
    assert not (tmp_path / f"{P}-42.log").exists()


def test_lanes_stops_when_a_plain_run_waits_for_a_result_that_will_not_come(bench, tmp_path, fake_run):
    fake_run.no_result = (f"{S}-42",)  # exits 0 without its result.json
    with pytest.raises(SystemExit, match="no run can start"):
        bench.lanes(_lane_args(tmp_path, seeds=[42]), popen=fake_run)


def test_lanes_stops_its_running_runs_when_it_is_interrupted(bench, tmp_path, fake_run, monkeypatch):
    fake_run.durations = {f"{S}-42": 99, f"{S}-43": 99}

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.time, "sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        bench.lanes(_lane_args(tmp_path), popen=fake_run)
    assert {("terminated", f"{S}-42"), ("terminated", f"{S}-43")} <= set(fake_run.events)


@pytest.mark.parametrize(("kw", "match"), [({"arm": "plain"}, "lanes runs a training st_plus arm"),
                                           ({"plain": "st_plus"}, "not a plain arm"),
                                           ({"lanes": 0}, "--lanes must be >= 1"),
                                           ({"seeds": [42, 42]}, "--seeds distinct")])  # fmt: skip
def test_lanes_refuses_bad_arguments_before_any_run(bench, tmp_path, kw, match):
    with pytest.raises(SystemExit, match=match):
        bench.lanes(_lane_args(tmp_path / "out", **kw), popen=lambda *a, **k: pytest.fail("started a run"))
    assert not (tmp_path / "out").exists()


def test_report_and_test_refuse_runs_trained_on_another_recipe(bench, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    _result(runs / "start-42", "start", 42, 80.0, 85.0)  # trains nothing: any recipe's folder may hold it
    _result(runs / "st_plus-42", "st_plus", 42, 82.0, 86.0)  # no recipe named (before stop 47): taken on the word
    x2 = bench.REPO / "benchmarks" / "recipes" / "recipe_vs_st_x2.yaml"
    output = tmp_path / "out.json"
    for recipe in (bench.RECIPE, x2):  # e.g. full_en.yaml's GPU runs name none and are reported with --recipe
        bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=recipe))
        assert json.loads(output.read_text(encoding="utf-8"))["recipe"] == bench._recipe_name(recipe)
    path = runs / "st_plus-42" / "result.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "recipe": "benchmarks/recipes/recipe_vs_st_x2.yaml"}))
    bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=x2))
    assert json.loads(output.read_text(encoding="utf-8"))["recipe"] == "benchmarks/recipes/recipe_vs_st_x2.yaml"
    with pytest.raises(SystemExit, match="st_plus-42/result.json: trained on benchmarks/recipes/recipe_vs_st_x2.yaml, "
                                         "not on --recipe benchmarks/recipes/recipe_vs_st.yaml"):
        bench.report(types.SimpleNamespace(folder=runs, output=output, recipe=bench.RECIPE))
    monkeypatch.setattr(bench, "_check_run", lambda folder, done: None)
    monkeypatch.setattr(bench, "_run_model", lambda recipe, folder, done: None)
    monkeypatch.setattr(bench, "_score", lambda model, tasks: {"retrieval_debian_en": 1.0})
    with pytest.raises(SystemExit, match="trained on benchmarks/recipes/recipe_vs_st_x2.yaml"):
        bench.score_test(types.SimpleNamespace(folder=runs, recipe=bench.RECIPE, base=None, split="test", tasks=None))
    assert not list(runs.glob("*/test_result.json"))  # refused before the first run was scored
    bench.score_test(types.SimpleNamespace(folder=runs, recipe=x2, base=None, split="test", tasks=None))
    scored = json.loads((runs / "st_plus-42" / "test_result.json").read_text(encoding="utf-8"))
    assert scored["recipe"] == "benchmarks/recipes/recipe_vs_st_x2.yaml"  # carried over from its result.json
    assert "recipe" not in json.loads((runs / "start-42" / "test_result.json").read_text(encoding="utf-8"))


def _scaled_recipes(bench, name):
    from st_plus.training import load_recipe

    return load_recipe(bench.RECIPE), load_recipe(bench.REPO / "benchmarks" / "recipes" / f"recipe_vs_st_{name}.yaml")


def _same_but(one, two, stage1_data, debian, sts) -> None:
    """``two`` is ``one`` once its stage-1 data, stage-2 Debian task and STS-B data are set back to ``one``'s."""
    (deb1, sts1), (deb2, sts2) = one.stages.multitask.tasks, two.stages.multitask.tasks
    assert two.stages.contrastive.data == stage1_data and (deb2.rows, deb2.negatives.corpus) == debian
    assert (Path(sts2.data.path).name, sts2.data.rows) == sts
    negatives = dataclasses.replace(deb2.negatives, corpus=deb1.negatives.corpus)
    assert dataclasses.replace(deb2, rows=deb1.rows, negatives=negatives) == deb1
    assert dataclasses.replace(sts2, data=sts1.data) == sts1 and sts2.data.license == sts1.data.license
    assert dataclasses.replace(two.stages.contrastive, data=one.stages.contrastive.data) == one.stages.contrastive
    assert dataclasses.replace(two.stages.multitask, tasks=one.stages.multitask.tasks) == one.stages.multitask
    assert dataclasses.replace(two, name=one.name, stages=one.stages, source=one.source) == one


def test_scaled_recipes_change_only_the_rows_they_name(bench):
    one, x2 = _scaled_recipes(bench, "x2")
    debian = one.stages.contrastive.data[0]
    pool = one.stages.multitask.tasks[0].negatives.corpus
    assert debian.rows == 2048 and one.stages.multitask.tasks[1].data.rows == 512
    _same_but(one, x2, [dataclasses.replace(debian, rows=4096)], (1024, pool), ("stsb_train_en.jsonl", None))
    _, x3 = _scaled_recipes(bench, "x3")  # every pair of the 6,000-row file; STS-B from the full training file
    _same_but(one, x3, [dataclasses.replace(debian, rows=None)], (1536, pool), ("stsb_train_full_en.jsonl", 1536))
    _, x4 = _scaled_recipes(bench, "x4")  # and 2,192 pairs of the extra file, mined from both files' descriptions
    extra = x4.stages.contrastive.data[1]
    assert Path(extra.path).name == "debian_pairs_extra_en.jsonl.gz" and extra.rows == 2192
    assert dataclasses.replace(extra, path=debian.path, rows=None, name=debian.name) == dataclasses.replace(
        debian, rows=None)  # fmt: skip
    _same_but(one, x4, [dataclasses.replace(debian, rows=None), extra], (2048, [*pool, extra.path]),
              ("stsb_train_full_en.jsonl", 2048))  # fmt: skip


def test_scale_lines_up_one_comparison_across_results_files_by_their_rows(bench, tmp_path):
    files = []
    for n, (rows, lead) in enumerate([(4000, 1.5), (2000, 1.0)]):  # given out of order: sorted by rows
        runs = tmp_path / f"runs{n}"
        for seed in (42, 43):
            _result(runs / f"st_plus_siblings_short-{seed}", "st_plus_siblings_short", seed, 80.0 + lead, 86.0)
            _result(runs / f"plain_bf16_noattn-{seed}", "plain_bf16_noattn", seed, 80.0 + seed - 42, 86.0)
            for arm, info in (("st_plus_siblings_short", {"steps": {"contrastive": 3, "multitask": 2}}),
                              ("plain_bf16_noattn", {"steps": 4, "budget_seconds": 10.0,
                                                     "rows": {"stage1": rows - 10 * (seed - 42), "stsb": 512}})):
                path = runs / f"{arm}-{seed}" / "result.json"
                path.write_text(json.dumps({**json.loads(path.read_text()), "info": info}))
        files.append(tmp_path / f"r{n}.json")
        bench.report(types.SimpleNamespace(folder=runs, output=files[-1], recipe=bench.RECIPE, equal_budget_only=True))
    out = tmp_path / "scale.json"
    data = bench.scale(types.SimpleNamespace(results=files, comparison="st_plus_siblings_short - plain_bf16_noattn",
                                             output=out, plot=tmp_path / "scale.png"))  # fmt: skip
    assert data == json.loads(out.read_text(encoding="utf-8")) and (tmp_path / "scale.png").stat().st_size > 0
    small, large = data["points"]
    assert small["rows"] == {"stage1": [2000, 1990], "stsb": [512, 512]} and small["rows_total"] == 2507
    assert small["per_seed"]["retrieval"] == [1.0, 0.0] and large["per_seed"]["retrieval"] == [1.5, 0.5]
    assert small["steps"] == {"st_plus_siblings_short": [{"contrastive": 3, "multitask": 2}] * 2,
                              "plain_bf16_noattn": [4, 4]}  # fmt: skip
    table = bench._scale_table(data)
    assert "| 1,990-2,000 + 512 (mean 2,507) | 10 | 3+2, 3+2; 4, 4 | 42, 43 | +0.50 ± 0.71 (+1.00, +0.00) |" in table
    assert data["split"] == "dev"
    with pytest.raises(SystemExit, match="no comparison 'st_plus - plain'"):
        bench.scale(types.SimpleNamespace(results=files, comparison="st_plus - plain", output=out, plot=None))
    with pytest.raises(SystemExit, match="two different arms"):
        bench.scale(types.SimpleNamespace(results=files, comparison="plain_bf16_noattn - plain_bf16_noattn",
                                          output=out, plot=None))  # fmt: skip
    other = json.loads(files[1].read_text(encoding="utf-8"))
    files[1].write_text(json.dumps({**other, "tasks": ["retrieval_debian_dev_en"]}), encoding="utf-8")
    with pytest.raises(SystemExit, match="split and tasks .* differ from"):
        bench.scale(types.SimpleNamespace(results=files, comparison="st_plus_siblings_short - plain_bf16_noattn",
                                          output=out, plot=None))  # fmt: skip


def test_banking_recipe_is_x4_with_a_label_task_read_with_masked_in_batch_negatives(bench):
    _, x4 = _scaled_recipes(bench, "x4")
    _, banking = _scaled_recipes(bench, "x4_banking")
    *same, label_task = banking.stages.multitask.tasks
    assert same == x4.stages.multitask.tasks and banking.stages.contrastive == x4.stages.contrastive
    assert (label_task.type, label_task.data.rows) == ("classification", 2048)
    assert Path(label_task.data.path).name == "banking77_train_nodev_en.jsonl.gz"
    stage2 = dataclasses.replace(banking.stages.multitask, tasks=x4.stages.multitask.tasks, label_negatives="explicit")
    assert banking.stages.multitask.label_negatives == "in_batch_masked" and stage2 == x4.stages.multitask



def test_explicit_arm_is_the_short_arm_with_label_triplets_read_with_their_own_negatives(bench):
    _, recipe = _scaled_recipes(bench, "x4_banking")
    short = bench._variant(recipe, "st_plus_siblings_short", 43)
    explicit = bench._variant(recipe, "st_plus_siblings_short_explicit", 43)
    assert (short.stages.multitask.label_negatives, explicit.stages.multitask.label_negatives) == (
        "in_batch_masked", "explicit")  # fmt: skip
    assert dataclasses.replace(explicit.stages.multitask, label_negatives="in_batch_masked") == short.stages.multitask
    assert explicit.stages.contrastive == short.stages.contrastive and explicit.seed == short.seed == 43


def test_full_en_reads_the_banking_recipes_label_task_the_same_way(bench):
    from st_plus.training import load_recipe

    _, banking = _scaled_recipes(bench, "x4_banking")
    full = load_recipe(bench.REPO / "examples" / "recipes" / "full_en.yaml")  # since stop 49
    assert [t.name for t in full.stages.multitask.tasks] == ["debian", "stsb", "banking77"]
    assert full.stages.multitask.tasks[2] == banking.stages.multitask.tasks[2]
    assert full.stages.multitask.label_negatives == banking.stages.multitask.label_negatives == "in_batch_masked"


def test_full_en_trains_what_the_short_arm_trains(bench):
    from st_plus.training import load_recipe

    full = load_recipe(bench.REPO / "examples" / "recipes" / "full_en.yaml")  # since stop 50
    assert bench._variant(full, "st_plus", 44) == bench._variant(full, "st_plus_siblings_short", 44)
    debian = full.stages.multitask.tasks[0].negatives
    assert full.stages.contrastive.filter is None and full.stages.multitask.epochs == 1.0
    assert (debian.dynamic, debian.group_negatives, debian.corpus_group_field) == (False, 3, "source")
    assert full.stages.contrastive.attention_dropout == full.stages.multitask.attention_dropout == 0.0


def test_preserve_recipe_is_full_en_with_the_quickstarts_preserve_task_which_plain_leaves_out(bench):
    from st_plus.training import load_recipe

    full = load_recipe(bench.REPO / "examples" / "recipes" / "full_en.yaml")
    preserve = load_recipe(bench.REPO / "benchmarks" / "recipes" / "full_en_preserve.yaml")  # stop 51
    quickstart = load_recipe(bench.REPO / "examples" / "recipes" / "quickstart.yaml")
    *same, general = preserve.stages.multitask.tasks
    assert same == full.stages.multitask.tasks and general == quickstart.stages.multitask.tasks[-1]
    assert general.type == "preserve" and general.data.rows == 640
    stage2 = dataclasses.replace(preserve.stages.multitask, tasks=full.stages.multitask.tasks)
    assert stage2 == full.stages.multitask and preserve.stages.contrastive == full.stages.contrastive
    assert dataclasses.replace(preserve, name=full.name, stages=full.stages, source=full.source) == full
    assert bench._variant(preserve, "st_plus", 43) == bench._variant(preserve, "st_plus_siblings_short", 43)


def test_plain_rows_leave_out_a_preserve_task(bench):
    from st_plus.training import load_recipe

    recipe = load_recipe(bench.REPO / "benchmarks" / "recipes" / "full_en_preserve.yaml")
    small = [dataclasses.replace(t, data=dataclasses.replace(t.data, rows=8)) if t.data != "stage1" else t
             for t in recipe.stages.multitask.tasks]  # fmt: skip
    recipe = dataclasses.replace(recipe, stages=dataclasses.replace(
        recipe.stages, multitask=dataclasses.replace(recipe.stages.multitask, tasks=small)))  # fmt: skip
    datasets, negatives, label_names = bench._plain_rows(recipe, 43)
    assert list(datasets) == ["stage1", "stsb", "banking77"] and label_names == ["banking77"]
    assert negatives == recipe.stages.multitask.tasks[0].negatives


def test_plain_rows_of_a_label_task_are_st_pluss_label_triplets_without_labels(bench, tiny_model):
    from st_plus.training import TrainingTask, build_multitask
    from st_plus.training.recipe_data import read_rows
    from st_plus.training.stages import sample_rows

    _, recipe = _scaled_recipes(bench, "x4_banking")
    task = recipe.stages.multitask.tasks[2]
    datasets, negatives, label_names = bench._plain_rows(recipe, 43)
    assert negatives is not None and datasets["banking77"].column_names == ["anchor", "positive", "negative_1"]
    assert label_names == ["banking77"]
    rows = sample_rows(read_rows(task.data, task.type), task.data.rows, 43)  # what stage 2 reads for the task
    setup = build_multitask(tiny_model, [TrainingTask("banking77", "classification", rows)], seed=43,
                            label_negatives="in_batch_masked")  # fmt: skip
    assert setup.train_dataset["banking77"].remove_columns("label").to_dict() == datasets["banking77"].to_dict()
    assert len(datasets["banking77"]) == 2048


def test_banking_rows_file_holds_no_text_of_the_dev_suites_banking_rows_or_the_test_split():
    import gzip
    import random

    repo = SCRIPT.parents[1]
    with gzip.open(repo / "examples" / "data" / "classification_banking77_en" / "train.jsonl.gz", "rt") as handle:
        train = [json.loads(line) for line in handle]
    order = list(range(len(train)))
    random.Random(13).shuffle(order)  # benchmarks/make_dev_suite.py's shuffle of the same 10,003 rows
    dev = {train[i]["text"] for i in order[:6000]}
    with gzip.open(repo / "examples" / "training_data" / "banking77_train_nodev_en.jsonl.gz", "rt") as handle:
        rows = [json.loads(line) for line in handle]
    with open(repo / "examples" / "data" / "classification_banking77_en" / "test.jsonl", encoding="utf-8") as handle:
        test = {json.loads(line)["text"] for line in handle}
    assert len(rows) == 4003 and not {r["text"] for r in rows} & (dev | test)
    assert {r["text"] for r in rows} <= {r["text"] for r in train} and len({r["label"] for r in rows}) == 77
