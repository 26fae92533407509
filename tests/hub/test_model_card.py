"""The st_plus card: sentence-transformers' card data plus the run; valid Hub front matter and model-index."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from st_plus.hub import ModelCardError, StPlusModelCardData, check_card, render_model_card
from st_plus.hub.model_card import TEMPLATE_PATH


def test_card_shows_the_run_and_its_front_matter_parses(tiny_bert, run_info):
    readme = render_model_card(tiny_bert, StPlusModelCardData(run_info=run_info, model_id="org/tiny"))
    card = ModelCard(readme)
    data = card.data.to_dict()
    assert data["library_name"] == "sentence-transformers"
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["language"] == ["en"]
    assert data["datasets"] == ["sentence-transformers/stsb"]
    assert {"st-plus", "matryoshka", "late-chunking", "dynamic-hard-negatives", "loss:ConsentLoss"} <= set(
        data["tags"]
    )
    # sections: results, Matryoshka table, stages with licence and rows, statistics, hardware, plain usage
    for text in (
        "| retrieval_xquad_en | Retrieval | en | test | ndcg_at_10 | **0.9318** | 0.9300 | +0.0018 |",
        "| task | 32 | 16 |",
        "| sts_stsb_en | 0.8100 |  |",
        "| debian-descriptions-en | Retrieval | GPL-2.0-or-later | 3,000 |",
        "[stsb](https://huggingface.co/datasets/sentence-transformers/stsb)",
        "rows_in 3000, rows_dropped 120",
        "**Hard-negative mining:** method hybrid",
        "**Dynamic hard negatives (Conan-embedding), task pairs:** refreshes 4, rows_replaced 120; settings "
        "refresh_steps=25",
        "window 512, overlap 128",
        "- **Training time:** 10.2 minutes",
        'model = SentenceTransformer("org/tiny")',
        "#### Late chunking",
        "#### CoSENT",
        "kusupati2024matryoshka",  # the citation recorded when the run trained
    ):
        assert text in readme, text
    assert "trust_remote_code=True" not in readme


def test_model_index_round_trips_through_huggingface_hub(tiny_bert, run_info):
    card = check_card(render_model_card(tiny_bert, StPlusModelCardData(run_info=run_info, model_id="org/tiny")))
    _, evals = model_index_to_eval_results(card.data.to_dict()["model-index"])
    got = [(e.task_type, e.dataset_name, e.dataset_split, e.metric_type, e.metric_value) for e in evals]
    assert got == [
        ("Retrieval", "retrieval_xquad_en", "test", "ndcg_at_10", 0.9318),
        ("STS", "sts_stsb_en", None, "cosine_spearman", 0.81),
    ]
    assert [e.metric_value for e in card.data.eval_results] == [0.9318, 0.81]  # ModelCardData parsed it too


def test_card_without_run_info_is_sentence_transformers_card_data_alone(tiny_bert):
    readme = render_model_card(tiny_bert, StPlusModelCardData(model_id="org/plain"))
    data = check_card(readme).data.to_dict()
    assert "model-index" not in data
    assert "st-plus" in data["tags"]
    assert "## Evaluation" not in readme and "## Training" not in readme
    assert "#### Sentence Transformers" in readme
    assert 'SentenceTransformer("org/plain")' in readme


def test_template_errors_are_a_clear_value_error(tiny_bert, tmp_path):
    broken = tmp_path / "broken.md.j2"
    broken.write_text("---\n{{ card_data }}\n---\n{% for x in %}\n", encoding="utf-8")
    card_data = StPlusModelCardData(model_id="org/tiny")
    card_data.template_path = broken
    with pytest.raises(ModelCardError, match=r"model card template error \(.*broken\.md\.j2, line 4\)"):
        render_model_card(tiny_bert, card_data)


def test_cards_without_valid_front_matter_are_refused():
    with pytest.raises(ModelCardError, match="no YAML front matter"):
        check_card("# a card\n")
    with pytest.raises(ModelCardError, match="does not parse"):
        check_card("---\nlanguage: [en\n---\n# card\n")


def test_the_template_is_package_data_and_model_cards_points_to_it():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    assert TEMPLATE_PATH.is_file()
    assert '"hub/templates/*.j2"' in (repo / "pyproject.toml").read_text(encoding="utf-8")
    # one source of truth: model_cards/ holds no second copy of the template, only a pointer to it
    assert "st_plus/hub/templates/model_card.md.j2" in (repo / "model_cards" / "README.md").read_text(encoding="utf-8")
    assert not list((repo / "model_cards").rglob("*.j2"))


def test_importing_the_hub_package_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, st_plus.hub\nprint('matplotlib' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"


def test_card_states_the_merge_weights_and_how_they_were_chosen(tiny_bert, run_info):
    run_info["stages"].append({"name": "merge", "seconds": 0.2})
    run_info["extra"] = {
        "merge": {
            "with": "default",
            "method": "weighted parameter average (LM-Cocktail)",
            "ingredients": [
                {"model": "trained model", "weight": 0.7, "weight_given": 0.7},
                {"model": "default", "weight": 0.30000000000000004, "weight_given": 0.3},
            ],
            "choice": {"rule": "largest weight with no task below the base by more than max_drop", "max_drop": 0.003,
                       "dev_tasks": ["sts_a", "retrieval_b"]},
        }
    }  # fmt: skip
    readme = render_model_card(tiny_bert, StPlusModelCardData(run_info=run_info))
    assert (
        "- **Merge:** weighted parameter average (LM-Cocktail): trained model 0.70,"
        " sentence-transformers/all-MiniLM-L6-v2 0.30; the weight chosen"
        " on 2 development tasks (largest weight with no task below the base by more than max_drop,"
        " max_drop 0.3 points)"
    ) in readme
    assert "## Merge\n" not in readme  # stated once, in the merge stage's section
    check_card(readme)


@pytest.mark.parametrize(
    "merge", [None, "odd", {"ingredients": [{"model": "x"}]}, {"ingredients": "odd"}, {"ingredients": 5}]
)
def test_a_merge_entry_not_as_training_writes_it_adds_no_line(tiny_bert, run_info, merge):
    run_info["stages"].append({"name": "merge", "seconds": 0.2})
    run_info["extra"] = {"merge": merge}
    readme = render_model_card(tiny_bert, StPlusModelCardData(run_info=run_info))
    assert "**Merge:**" not in readme
    assert "### Stage 3: merge" in readme


def test_the_merge_line_names_local_folders_by_their_last_name_and_keeps_to_one_line():
    from st_plus.hub.model_card import _merge_text

    merge = {
        "method": "weighted\naverage",
        "ingredients": [{"model": "trained model", "weight": 0.5}, {"model": "/home/me/models/mine", "weight": 0.5}],
        "choice": {"rule": "best\nmean", "max_drop": 0.01, "dev_tasks": 3},
    }
    assert _merge_text(merge) == (
        "weighted average: trained model 0.50, mine 0.50; the weight chosen on development tasks (best mean,"
        " max_drop 1 points)"
    )
    assert _merge_text({**merge, "choice": {"rule": "r", "max_drop": 0.00125, "dev_tasks": ["a"]}}).endswith(
        "on 1 development tasks (r, max_drop 0.125 points)"
    )
    seeded = {**merge, "choice": {"rule": "r", "max_drop": 0.003, "dev_tasks": ["a"], "eval_seeds": [42, 43]}}
    assert _merge_text(seeded).endswith(
        "(r, max_drop 0.3 points, classification and clustering scored as the mean over evaluation seeds 42, 43)"
    )
    assert _merge_text({**merge, "choice": {"rule": "r", "eval_seeds": ["x"]}}).endswith("(r)")


def test_a_folder_merged_by_st_plus_merge_states_its_ingredients(tiny_bert, run_info):
    run_info["stages"][0]["name"] = "qs-model/contrastive"  # merge_models renames the ingredients' stages
    run_info["extra"] = {"merge": {"method": "weighted parameter average (LM-Cocktail)",
                                   "ingredients": [{"model": "runs/qs/model", "weight": 0.7},
                                                   {"model": "default", "weight": 0.3}]}}  # fmt: skip
    readme = render_model_card(tiny_bert, StPlusModelCardData(run_info=run_info))
    assert "## Merge\n" in readme
    assert "- **Merge:** weighted parameter average (LM-Cocktail): runs/qs/model 0.70, " in readme
    check_card(readme)


def test_multitask_mining_is_one_line_per_task(tiny_bert, run_info):
    stage = next(s for s in run_info["stages"] if s.get("mining"))
    stage["mining"] = {"debian": {"rows_in": 640, "corpus_size": 5997}, "manpages": {"rows_in": 32, "seconds": 1.5}}
    readme = render_model_card(tiny_bert, StPlusModelCardData(run_info=run_info, model_id="org/tiny"))
    assert "- **Hard-negative mining, task debian:** rows_in 640, corpus_size 5997\n" in readme
    assert "- **Hard-negative mining, task manpages:** rows_in 32, seconds 1.5\n" in readme
    assert "{'rows_in'" not in readme  # never a raw dictionary
