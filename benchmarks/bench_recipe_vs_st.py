"""st_plus's recipe vs what a strong plain sentence-transformers user writes: same rows, equal wall clock (issue 14).

    python benchmarks/make_dev_suite.py --output runs/dev_suite         # the development tasks (once)
    B=benchmarks/bench_recipe_vs_st.py; R=runs/recipe_vs_st
    python $B run --arm start --out $R/start                          # the bundled model, no training
    for s in 42 43 44; do
      python $B run --arm st_plus --seed $s --out $R/st_plus-$s
      python $B run --arm plain --seed $s --budget-from $R/st_plus-$s --out $R/plain-$s
      python $B run --arm st_plus_static --seed $s --out $R/st_plus_static-$s
    done
    python $B lanes --arm st_plus_siblings_short --plain plain_bf16_noattn --out $R   # 3 seeds, two jobs at a time
    python $B report $R --output benchmarks/results/recipe_vs_st.json   # mean, std, paired per-seed differences
    python $B table                                                     # the README table, from the results file
    python $B test $R                                      # held-out: the same models on the shipped test slices, once
    python $B report $R --split test --output benchmarks/results/recipe_vs_st_test.json
    python $B scale --results A.json B.json --output S.json --plot S.png   # one comparison against the rows given

The arms, all from the bundled all-MiniLM-L6-v2 and the rows of ``benchmarks/recipes/recipe_vs_st.yaml``
(``--recipe``; ``benchmarks/recipes/recipe_vs_st_x{2,3,4}.yaml`` have 2-4 times its rows, stop 47, and
``recipe_vs_st_x4_banking.yaml`` adds a Banking77 label task, stop 48; ``full_en_preserve.yaml`` is
``examples/recipes/full_en.yaml`` with a ``preserve`` task, which the plain arms leave out, stop 51). Each
``result.json`` names the recipe it was trained on (since stop 47), and ``report``, ``test``, ``lanes`` and a merged
``run`` refuse a run that names another recipe than their ``--recipe``:

- ``st_plus``: the recipe through :func:`st_plus.training.run_recipe`, as ``st-plus train`` runs it: stage 1 (in-batch
  negatives, group-aware batches, consistency filtering), stage 2 (hybrid BM25 + dense hard negatives mined from the
  whole pool of shipped Debian descriptions with the group guard, refreshed while training; STS with Consent).
- ``st_plus_static``: the same with ``dynamic: false`` (negatives mined once): the dynamic-vs-static ablation.
- ``st_plus_inbatch``: the same without hard negatives (in-batch negatives only).
- ``st_plus_nofilter``: the same without the consistency filter after stage 1 (stage 2 samples its rows from all
  stage-1 pairs): the filtering ablation, at equal steps (the arm saves the filter's seconds).
- ``st_plus_stage1x3``: ``st_plus_nofilter`` with three epochs of stage 1 instead of one (the stage-1 probe of
  ``benchmarks/probe_stage1_options.py``: dev retrieval rose with stage-1 epochs on one seed).
- ``st_plus_allrows``: ``st_plus_nofilter`` whose stage 2 gives hard negatives to every stage-1 pair (not a sample
  of the task's ``rows``; ``plain`` mines them for every pair too), mined once (``dynamic: false``), in one stage-2
  epoch instead of two (a replaced negative reaches its row only at its next read, so one pass would pay for the
  refreshes without using them).
- ``st_plus_prompts``: ``st_plus_nofilter`` trained with Nomic Embed's task prefixes (``search_query: `` on the
  queries, ``search_document: `` on the documents of stage 1 and of the stage-2 retrieval task; none on STS). The
  pipeline records them in the saved model, so the dev suite reads its retrieval and reranking tasks with them, as
  MTEB reads a sentence-transformers model's prompts.
- ``st_plus_query_prompt``: ``st_plus_prompts`` without the document prefix: ``search_query: `` on the queries
  only, documents as they are (the query-only instruction of BGE, with Nomic's query prefix).
- ``st_plus_siblings``: ``st_plus_nofilter`` whose Debian task takes its hard negatives first from the other
  packages of the row's own Debian source (``negatives.group_negatives: 3``, up to all three; the pool's sources
  read with ``corpus_group_field: source``), most similar first, the rest from the band: on the dev split, in 112
  of the 201 Debian queries missed at rank 1 a package of the query's own source ranks above the right description,
  and the group guard kept such packages out of the negatives.
- ``st_plus_siblings_static``: ``st_plus_siblings`` with its negatives mined once (``dynamic: false``). In the
  ``st_plus_siblings`` runs of stop 43 the 8 refreshes replaced the negatives of 4 to 19 of the 512 rows, and
  refreshing takes 40 to 60 seconds of a run (``info.dynamic_negatives.debian.seconds``), which equal wall clock
  hands to ``plain`` as well: is that time worth more as no time at all?
- ``st_plus_siblings_lr``: ``st_plus_siblings_static`` with stage 2 at stage 1's and ``plain``'s learning rate
  (5e-5 instead of the recipe's 2e-5): 64 stage-2 steps at 2e-5 may leave the hard negatives little to act on.
- ``st_plus_siblings_wide``: ``st_plus_siblings_static`` reading 1,024 Debian rows and all 1,000 shipped STS-B rows
  once instead of 512 of each twice (about the same steps; the recipe's second epoch exists for dynamic negatives,
  which this arm does not refresh). Both are stop 45's one-seed probes before three seeds.
- ``st_plus_siblings_noattn``: ``st_plus_siblings_static`` with ``attention_dropout: 0.0`` in both stages (no
  dropout on the attention probabilities while training; the hidden-state dropout stays): on CPU that dropout is
  most of attention's cost (``benchmarks/bench_attention_dropout.py``), so the same steps take less time, which
  equal wall clock also takes from ``plain``.
- ``st_plus_merged``: an ``st_plus`` run's model (``--merge-from RUN``; since stop 47 the run of any training st_plus
  arm, named in ``info.source_arm``) averaged with the start model,
  ``--merge-weight`` (0.7, the quickstart's weight, chosen on the development suite over 3 seeds) on the trained
  model, as the recipe's ``merge`` stage does (:func:`st_plus.models.merge_models`); its seconds are the source
  run's plus the merge's. The merge ablation, and the merged recipe against ``plain``.
- ``st_plus_siblings_short``: ``st_plus_siblings_noattn`` with stage 2 read once (``epochs: 1``: 32 steps instead of
  64). The recipe's second stage-2 epoch exists for dynamic negatives, which act from a row's second read; the
  static arms never refresh, so for them it is only more steps. A shorter run: equal wall clock gives ``plain``
  less time as well (stop 46).
- ``st_plus_siblings_short_explicit``: ``st_plus_siblings_short`` with ``label_negatives: explicit`` (each label
  triplet's own negative only, the recipe default): against ``st_plus_siblings_short`` on a recipe whose label
  tasks are read with ``in_batch_masked``, is it the masking (stop 48)?
- ``st_plus_merged_stage1``: a finished run of a stage-2 arm (``--merge-from RUN``, e.g. ``st_plus_siblings_noattn``)
  averaged with that same run's stage-1 model (``RUN/run/stages/contrastive/model``), ``--merge-weight`` on the
  stage-2 model: a point between the two stages' weights, found after the fact (Wortsman et al.'s WiSE-FT along the
  recipe's own path, LM-Cocktail's maths). Its seconds are the source run's plus the merge's; it trains nothing.
- ``plain``: one ``SentenceTransformerTrainer`` on the same rows (every stage-1 pair, every stage-2 file), the way a
  strong user writes it: static negatives from sentence-transformers' ``mine_hard_negatives`` over the same document
  pool (the recipe's rank band and count, ``relative_margin=0.05`` as its docs advise against false negatives,
  random sampling in the band), MNRL with those negatives, CoSENT on STS, MNRL on the label triplets that st_plus
  builds from classification / clustering texts (same rows and seed), ``bf16=True`` where the CPU has it,
  ``NO_DUPLICATES`` batches, the proportional multi-dataset sampler, learning rate 5e-5 with 10% warm-up.
  **Equal wall clock**: ``--budget-from`` an ``st_plus`` run gives it that run's seconds (loading, mining and
  training all count); it trains until the budget is spent, its learning rate decaying linearly in time to 0
  (``st_plus.models.WallClockCallback`` with a constant schedule: the shape of a linear schedule over the steps that
  fit). Its steps and samples are reported next to the st_plus arm's.
- ``plain_prompts``: ``plain`` trained with the same prefixes as ``st_plus_prompts``, the way sentence-transformers
  documents training with prompts (the trainer's ``prompts`` on the stage-1 columns: ``search_query: `` on the
  anchor, ``search_document: `` on the positive and the negatives; none on STS), and the saved model given them
  as ``model.prompts`` so that it is read with them. Mining stays as in ``plain`` (before training, no prompts;
  ``st_plus_prompts`` mines stage 2 with them). Its ``--budget-from`` is the ``st_plus_prompts`` run of its seed.
- ``plain_bf16_mining``: ``plain`` whose ``mine_hard_negatives`` call runs under ``torch.autocast("cpu",
  dtype=torch.bfloat16)`` (what a user who knows the CPU has bfloat16 can wrap around it; the function has no
  precision option), training as in ``plain``. Its ``--budget-from`` was the ``st_plus_siblings_static`` run of its
  seed in stop 44 (which found ``plain`` spending 40-51% of such a budget loading the model and mining in float32),
  the ``st_plus_siblings_noattn`` run in stop 45.
- ``plain_bf16_noattn``: ``plain_bf16_mining`` trained inside :func:`st_plus.models.attention_dropout` ``(model,
  0.0)`` (no attention-probability dropout, attention on the unfused kernel on CPU): a plain user who knows the
  trick of the ``st_plus_siblings_noattn`` arm, whose runs give its budgets.
- ``plain_bf16_noattn_gist``: ``plain_bf16_noattn`` with the label triplets trained with sentence-transformers'
  ``GISTEmbedLoss`` (the start model, frozen and in eval mode, as the guide; the loss's defaults: temperature 0.01,
  anchor-anchor and positive-positive terms) instead of MNRL: a plain user who removes likely false negatives the way
  sentence-transformers offers (any candidate the guide scores above the row's positive; the labels are not read),
  against st_plus's ``label_negatives: in_batch_masked`` (stop 49). Other datasets as ``plain_bf16_noattn``.
- ``start``: no training.

``run`` scores every model on the development suite (``runs/dev_suite`` or ``$ST_PLUS_DEV_SUITE``; English: all six
task types), bf16 encoding where the CPU has it natively (``dtype="auto"``; else float32), batch 64, at the model's
inference length (256 tokens), never on the shipped test slices (only ``test`` reads those, below). Run one job at a
time, or each with ``OMP_NUM_THREADS=1`` (the wall-clock budget of ``plain`` is only fair when its run
shares the machine as its ``st_plus`` run did).
``lanes --arm ARM --plain PLAIN --out DIR`` runs both arms on ``--seeds`` (42 43 44) that way, two jobs of one thread
at a time, each plain run once its seed's ``ARM`` run has finished (see :func:`lanes`).

``test FOLDER`` scores the models of finished runs, unchanged, on the shipped English test slices (``TEST_TASKS``:
every English slice of ``examples/data`` except the long-document QMSum slice, which is read with chunking) and
writes ``RUN/test_result.json`` next to each ``result.json``; a run already scored is skipped. ``report --split test``
then pairs those scores as it pairs the dev scores. It is the held-out check of a verdict taken on dev: run it once,
after the arms were chosen. ``test FOLDER --split fresh --tasks DIR ...`` scores them on a split carved after both
(``benchmarks/make_dev_suite.py --debian-bucket N``) into ``RUN/fresh_result.json``; ``report --split fresh``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "benchmarks" / "recipes" / "recipe_vs_st.yaml"
DEV_SUITE = Path(os.environ.get("ST_PLUS_DEV_SUITE", REPO / "runs" / "dev_suite"))
RESULTS = REPO / "benchmarks" / "results" / "recipe_vs_st.json"
TEST_SLICES = REPO / "examples" / "data"
# the shipped English test slices, fixed before any run was scored on them (stop 38); the long-document QMSum slice
# is issue 16's task, read with chunking rather than at the 256 tokens every arm is read at here
TEST_TASKS = ("classification_banking77_en", "clustering_banking77_en", "pairclf_banking77_en", "reranking_xquad_en",
              "retrieval_debian_en", "retrieval_xquad_en", "sts_stsbenchmark_en")  # fmt: skip
RESULT_FILES = {"dev": "result.json", "test": "test_result.json", "fresh": "fresh_result.json"}
ARMS = ("start", "st_plus", "st_plus_static", "st_plus_inbatch", "st_plus_nofilter", "st_plus_stage1x3",
        "st_plus_allrows", "st_plus_prompts", "st_plus_query_prompt", "st_plus_siblings", "st_plus_siblings_static",
        "st_plus_siblings_lr", "st_plus_siblings_wide", "st_plus_siblings_noattn", "st_plus_siblings_short",
        "st_plus_siblings_short_explicit", "st_plus_merged", "st_plus_merged_stage1", "plain",
        "plain_prompts", "plain_bf16_mining", "plain_bf16_noattn", "plain_bf16_noattn_gist")
LABEL_TASK_TYPES = ("Classification", "Clustering")  # st_plus's label-triplet task types (TrainingTask.task_type)
PLAIN_ARMS = ("plain", "plain_prompts", "plain_bf16_mining", "plain_bf16_noattn", "plain_bf16_noattn_gist")
SIBLING_ARMS = ("st_plus_siblings", "st_plus_siblings_static", "st_plus_siblings_lr", "st_plus_siblings_wide",
                "st_plus_siblings_noattn", "st_plus_siblings_short", "st_plus_siblings_short_explicit")
# the sibling arms whose negatives are mined once; _wide reads twice the stage-2 rows once instead of its rows twice
STATIC_SIBLING_ARMS = ("st_plus_siblings_static", "st_plus_siblings_lr", "st_plus_siblings_wide",
                       "st_plus_siblings_noattn", "st_plus_siblings_short", "st_plus_siblings_short_explicit")
# _short arms: no attention dropout, stage 2 read once; _explicit: label triplets with their own negatives only
SHORT_ARMS = ("st_plus_siblings_short", "st_plus_siblings_short_explicit")
WIDE_ROWS, STAGE2_LR = 1024, 5e-5
# Nomic Embed's task prefixes (the st_plus_prompts arm): queries and documents of the retrieval rows
PREFIXES = {"query": "search_query: ", "document": "search_document: "}
ARM_PREFIXES = {"st_plus_prompts": PREFIXES, "st_plus_query_prompt": {"query": PREFIXES["query"]}}
PLAIN_LR, PLAIN_WARMUP_STEPS = 5e-5, 10


def _dev_tasks(only: list[str] | None = None) -> list[Path]:
    tasks = sorted(p for p in (DEV_SUITE / "en").iterdir() if (p / "task.json").is_file())
    tasks = [p for p in tasks if only is None or p.name in only]
    if not tasks:
        raise SystemExit(f"no dev tasks under {DEV_SUITE}/en: run benchmarks/make_dev_suite.py --output {DEV_SUITE}")
    return tasks


def _test_tasks() -> list[Path]:
    tasks = [TEST_SLICES / name for name in TEST_TASKS]
    missing = [str(p) for p in tasks if not (p / "task.json").is_file()]
    if missing:
        raise SystemExit(f"shipped test slices missing: {', '.join(missing)}")
    return tasks


def _score(model, tasks: list[Path]) -> dict[str, float]:
    from st_plus.evaluation import evaluate_suite

    model.max_seq_length = 256  # the bundled model's own length: every arm is read at the same length
    results = evaluate_suite(model, tasks, batch_size=64, dtype="auto", show_progress_bar=False)
    return {r.task_name: 100 * r.main_score for r in results}


def _variant(recipe, arm: str, seed: int):
    """The recipe for an st_plus arm: the seed, and the hard negatives the arm asks for."""
    from st_plus.training.recipe import EvaluationSpec

    tasks = []
    for task in recipe.stages.multitask.tasks:
        if task.negatives is not None and arm == "st_plus_static":
            task = dataclasses.replace(task, negatives=dataclasses.replace(task.negatives, dynamic=False))
        elif task.negatives is not None and arm == "st_plus_inbatch":
            task = dataclasses.replace(task, negatives=None)
        elif task.negatives is not None and task.data == "stage1" and arm == "st_plus_allrows":
            task = dataclasses.replace(task, rows=None, negatives=dataclasses.replace(task.negatives, dynamic=False))
        elif task.data == "stage1" and arm in ARM_PREFIXES:
            task = dataclasses.replace(task, prompts={**task.prompts, **ARM_PREFIXES[arm]})
        elif task.negatives is not None and task.data == "stage1" and arm in SIBLING_ARMS:
            dynamic = task.negatives.dynamic and arm not in STATIC_SIBLING_ARMS
            siblings = dataclasses.replace(task.negatives, corpus_group_field="source",
                                           group_negatives=task.negatives.num_negatives, dynamic=dynamic)  # fmt: skip
            task = dataclasses.replace(task, negatives=siblings)
            if arm == "st_plus_siblings_wide":
                task = dataclasses.replace(task, rows=WIDE_ROWS)
        elif arm == "st_plus_siblings_wide" and task.data != "stage1":  # every row of each task's file (the default
            # recipe's STS-B: 1,000); plain keeps the recipe's rows
            task = dataclasses.replace(task, data=dataclasses.replace(task.data, rows=None))
        tasks.append(task)
    multitask = dataclasses.replace(recipe.stages.multitask, tasks=tasks)
    if arm == "st_plus_siblings_wide":  # the same steps over twice the rows: each row read once
        multitask = dataclasses.replace(multitask, epochs=multitask.epochs / 2)
    elif arm == "st_plus_siblings_lr":
        multitask = dataclasses.replace(multitask, learning_rate=STAGE2_LR)
    elif arm in SHORT_ARMS:  # static negatives: one read of every stage-2 row
        multitask = dataclasses.replace(multitask, epochs=1.0, max_steps=None)
        if arm == "st_plus_siblings_short_explicit":  # the recipe's default way to read label triplets (stop 48)
            multitask = dataclasses.replace(multitask, label_negatives="explicit")
    if arm == "st_plus_allrows":  # one pass: a replaced negative would reach its row only at a second read
        multitask = dataclasses.replace(multitask, epochs=1.0, max_steps=None)
    stages = dataclasses.replace(recipe.stages, multitask=multitask)
    if arm in ("st_plus_nofilter", "st_plus_stage1x3", "st_plus_allrows", *SIBLING_ARMS, *ARM_PREFIXES):
        stage1 = dataclasses.replace(stages.contrastive, filter=None)
        if arm == "st_plus_stage1x3":
            stage1 = dataclasses.replace(stage1, epochs=3.0, max_steps=None)
        if arm in ARM_PREFIXES:
            stage1 = dataclasses.replace(stage1, prompts={**stage1.prompts, **ARM_PREFIXES[arm]})
        if arm in ("st_plus_siblings_noattn", *SHORT_ARMS):  # no attention-probability dropout
            stage1 = dataclasses.replace(stage1, attention_dropout=0.0)
            stage2 = dataclasses.replace(stages.multitask, attention_dropout=0.0)
            stages = dataclasses.replace(stages, multitask=stage2)
        stages = dataclasses.replace(stages, contrastive=stage1)
    # no evaluation inside the run: the benchmark scores every arm on the dev suite, never on the test slices
    return dataclasses.replace(recipe, seed=seed, stages=stages, evaluation=EvaluationSpec())


def _run_st_plus(recipe, arm: str, seed: int, out: Path) -> dict:
    from sentence_transformers import SentenceTransformer

    from st_plus.training import run_recipe

    variant = _variant(recipe, arm, seed)
    start = time.perf_counter()
    result = run_recipe(variant, output_dir=out / "run", overwrite=True, show_progress_bar=False)
    seconds = time.perf_counter() - start
    state = json.loads((out / "run" / "pipeline_state.json").read_text(encoding="utf-8"))
    done = state["done"]
    stage2 = done.get("multitask", {})
    info = {
        "steps": {name: done[name]["steps"] for name in ("contrastive", "multitask") if name in done},
        "stage_seconds": {name: done[name]["seconds"] for name in ("contrastive", "multitask") if name in done},
        "filter": {k: v for k, v in done.get("filter", {}).items() if isinstance(v, (int, float))},
        "mining": stage2.get("mining", {}),
        "dynamic_negatives": stage2.get("dynamic_negatives", {}),
        "length_grouped": {
            name: getattr(variant.stages, name).length_grouped
            for name in ("contrastive", "multitask")
            if getattr(variant.stages, name, None) is not None
        },
        "model_path": str(Path(result.model_path).resolve().relative_to(out.resolve())),
    }
    return {"seconds": seconds, "info": info, "model": SentenceTransformer(str(result.model_path))}


def _plain_rows(recipe, seed: int):
    """The same rows the st_plus arm trains on: every stage-1 pair and every stage-2 task with its own file.

    Labelled texts (classification / clustering tasks) become the label triplets that st_plus builds from them (same
    rows, seed and negatives), without the label column: plain trains them with MNRL, in-batch negatives included
    (``plain_bf16_noattn_gist``: with GISTEmbedLoss). Returns the datasets, stage 1's negatives settings and the
    names of the label-triplet datasets. A ``preserve`` task (st_plus's distillation toward the start model, stop
    51) has no plain counterpart and is left out.
    """
    from st_plus.training import TrainingTask, triplets_from_labels
    from st_plus.training.recipe_data import read_rows
    from st_plus.training.stages import read_pairs, sample_rows

    datasets = {"stage1": read_pairs(recipe.stages.contrastive.data, seed).select_columns(["anchor", "positive"])}
    negatives, label_names = None, []
    for task in recipe.stages.multitask.tasks:
        if task.data == "stage1":
            negatives = task.negatives
            continue
        if task.type == "preserve":  # distillation toward the start model: st_plus's own task, no plain counterpart
            continue
        rows = sample_rows(read_rows(task.data, task.type), task.data.rows, seed)
        if task.data.group_column in rows.column_names:
            rows = rows.remove_columns(task.data.group_column)
        if TrainingTask(task.name, task.type, rows).task_type in LABEL_TASK_TYPES:  # st_plus's spelling rules
            rows = triplets_from_labels(rows, seed=seed)
            label_names.append(task.name)
        datasets[task.name] = rows
    return datasets, negatives, label_names


def _run_plain(recipe, seed: int, budget: float, out: Path, prompts: dict[str, str] | None = None,
               bf16_mining: bool = False, attention_p: float | None = None, label_guide: bool = False) -> dict:
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import (
        CoSENTLoss,
        GISTEmbedLoss,
        MultipleNegativesRankingLoss,
    )
    from sentence_transformers.util import mine_hard_negatives

    from st_plus import load_model
    from st_plus.models import WallClockCallback, attention_dropout, read_texts
    from st_plus.training.pipeline import resolve_precision

    start = time.perf_counter()
    model = load_model(recipe.model.base)
    model.max_seq_length = recipe.model.max_seq_length
    datasets, neg, label_names = _plain_rows(recipe, seed)
    if neg is not None:
        corpus = read_texts(neg.corpus, fields=neg.corpus_fields) if neg.corpus else None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_mining):  # plain_bf16_mining
            datasets["stage1"] = mine_hard_negatives(
                datasets["stage1"], model, corpus=corpus, range_min=neg.range_min, range_max=neg.range_max,
                num_negatives=neg.num_negatives, relative_margin=0.05, sampling_strategy="random",
                output_format="n-tuple", batch_size=64, verbose=False,
            )  # fmt: skip
    mining_seconds = time.perf_counter() - start
    guide = None
    if label_guide and label_names:  # plain_bf16_noattn_gist: the start model guides the label triplets' negatives
        guide = load_model(recipe.model.base)
        guide.max_seq_length = recipe.model.max_seq_length
        guide.eval().requires_grad_(False)  # loaded in train mode: its dropout would move the guide's scores
    losses = {name: CoSENTLoss(model) if {"score", "label"} & set(rows.column_names)
              else GISTEmbedLoss(model, guide) if guide is not None and name in label_names
              else MultipleNegativesRankingLoss(model) for name, rows in datasets.items()}  # fmt: skip
    column_prompts = {}
    if prompts:  # sentence-transformers' training with prompts: per dataset and column; the model keeps them
        column_prompts = {"stage1": {c: prompts["query"] if c == "anchor" else prompts["document"]
                                     for c in datasets["stage1"].column_names}}  # fmt: skip
        model.prompts = {**(model.prompts or {}), **prompts}
    bf16 = resolve_precision(recipe.precision)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "trainer"), per_device_train_batch_size=recipe.stages.multitask.batch_size,
        num_train_epochs=1000, learning_rate=PLAIN_LR, lr_scheduler_type="constant", bf16=bf16, seed=seed,
        data_seed=seed, batch_sampler="no_duplicates", multi_dataset_batch_sampler="proportional",
        save_strategy="no", logging_steps=10, report_to="none", use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0, **({"prompts": column_prompts} if column_prompts else {}),
    )  # fmt: skip
    remaining = budget - (time.perf_counter() - start) - 5.0  # ~5 s to save the model, as the pipeline does
    clock = WallClockCallback(remaining, peak_lr=PLAIN_LR, warmup_steps=PLAIN_WARMUP_STEPS)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=datasets, loss=losses,
                                         callbacks=[clock])  # fmt: skip
    clock.start = time.perf_counter()
    with attention_dropout(model, attention_p):  # plain_bf16_noattn; None: BERT's own 0.1
        trainer.train()
    model.save(str(out / "model"))
    seconds = time.perf_counter() - start
    info = {
        "steps": trainer.state.global_step,
        "mining_seconds": round(mining_seconds, 1),
        "bf16_mining": bf16_mining,
        "attention_dropout": attention_p,
        "rows": {name: len(rows) for name, rows in datasets.items()},
        "losses": {name: type(loss).__name__ for name, loss in losses.items()},
        "bf16": bf16,
        "budget_seconds": round(budget, 1),
    }
    return {"seconds": seconds, "info": info, "model": model}


MERGED_ARMS = ("st_plus_merged", "st_plus_merged_stage1")


def _stage1_model(source: Path, done: dict) -> Path:
    """The stage-1 model folder of a finished run (``run/stages/contrastive/model`` next to its final model)."""
    return source / Path(done["info"]["model_path"]).parent / "stages" / "contrastive" / "model"


def _merge_source(source: Path | None, seed: int, weight: float, arm: str = "st_plus_merged") -> dict:
    """The ``result.json`` of the run that a merged arm merges, checked before any work starts."""
    if source is None:
        raise SystemExit(f"--arm {arm} needs --merge-from RUN (the run whose model is merged)")
    if not 0.0 < weight < 1.0:
        raise SystemExit(f"--merge-weight must be between 0 and 1 (exclusive), got {weight}")
    path = source / "result.json"
    if not path.is_file():
        raise SystemExit(f"--merge-from {source}: no result.json (not a finished run of this script)")
    done = json.loads(path.read_text(encoding="utf-8"))
    if done.get("arm") in ("start", *PLAIN_ARMS, *MERGED_ARMS):  # any st_plus arm that trained (stop 47 on)
        raise SystemExit(f"--merge-from {source}: an {done.get('arm')!r} run; {arm} merges a run of the recipe's "
                         "two stages")  # fmt: skip
    if "model_path" not in done.get("info", {}):
        raise SystemExit(f"--merge-from {source}: its result.json does not name its model (written before the "
                         f"model path was recorded); run the {done.get('arm')} arm again")  # fmt: skip
    if done["seed"] != seed:
        raise SystemExit(f"--merge-from {source} ran seed {done['seed']}, not --seed {seed}")
    if arm == "st_plus_merged_stage1" and not (_stage1_model(source, done) / "modules.json").is_file():
        raise SystemExit(f"--merge-from {source}: no stage-1 model at {_stage1_model(source, done)}")
    return done


def _run_merged(recipe, source: Path, done: dict, weight: float, arm: str = "st_plus_merged") -> dict:
    """A run's model averaged with the start model (``st_plus_merged``: the recipe's ``merge`` stage, after the
    fact) or with the same run's stage-1 model (``st_plus_merged_stage1``).

    The start model is this command's ``recipe.model.base`` (or ``--base``): the same as the source run's.
    """
    from st_plus.models import merge_models

    partner = str(_stage1_model(source, done)) if arm == "st_plus_merged_stage1" else recipe.model.base
    start = time.perf_counter()
    model = merge_models([str(source / done["info"]["model_path"]), partner], [weight, 1.0 - weight])
    merge_seconds = time.perf_counter() - start
    info = {"source": str(source), "source_seconds": done["seconds"], "source_seed": done["seed"], "weight": weight,
            "merge_seconds": round(merge_seconds, 1), "steps": done["info"].get("steps")}  # fmt: skip
    if arm == "st_plus_merged_stage1" or done["arm"] != "st_plus":  # st_plus_merged of an st_plus run: as before
        info["source_arm"] = done["arm"]
    return {"seconds": done["seconds"] + merge_seconds, "info": info, "model": model}


def _load_recipe(args: argparse.Namespace):
    """``--recipe``, with ``--base`` as its start model when given."""
    from st_plus.training import load_recipe

    recipe = load_recipe(args.recipe)
    if args.base is not None:  # e.g. a local copy of the bundled model on a machine without the package
        recipe = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, base=str(args.base)))
    return recipe


def run(args: argparse.Namespace) -> None:
    from st_plus import load_model
    from st_plus.training.checkpoints import atomic_write_text

    recipe = _load_recipe(args)
    if args.arm in PLAIN_ARMS and args.budget_from is None:
        raise SystemExit(f"--arm {args.arm} needs --budget-from ST_PLUS_RUN (its seconds are the arm's budget)")
    source = (_merge_source(args.merge_from, args.seed, args.merge_weight, args.arm) if args.arm in MERGED_ARMS
              else None)  # fmt: skip
    if source is not None:  # the merge's start model and rows are this command's recipe's: the source's must match
        _check_recipe(args.merge_from, source, getattr(args, "recipe", RECIPE))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.arm == "start":
        done = {"seconds": 0.0, "info": {}, "model": load_model(recipe.model.base)}
    elif args.arm in PLAIN_ARMS:
        budget = json.loads((args.budget_from / "result.json").read_text(encoding="utf-8"))["seconds"]
        done = _run_plain(recipe, args.seed, budget, args.out, PREFIXES if args.arm == "plain_prompts" else None,
                          bf16_mining=args.arm.startswith("plain_bf16_"),  # _mining, _noattn, _noattn_gist
                          attention_p=0.0 if args.arm.startswith("plain_bf16_noattn") else None,
                          label_guide=args.arm == "plain_bf16_noattn_gist")  # fmt: skip
    elif args.arm in MERGED_ARMS:
        done = _run_merged(recipe, args.merge_from, source, args.merge_weight, args.arm)
    else:
        done = _run_st_plus(recipe, args.arm, args.seed, args.out)
    scores = _score(done["model"], _dev_tasks(args.dev_tasks))
    result = {"arm": args.arm, "seed": args.seed, "seconds": round(done["seconds"], 1), "info": done["info"],
              "scores": scores, "threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
              "recipe": _recipe_name(getattr(args, "recipe", RECIPE))}  # fmt: skip
    atomic_write_text(args.out / "result.json", json.dumps(result, indent=2) + "\n")  # a lane may be waiting for it
    print(json.dumps({k: result[k] for k in ("arm", "seed", "seconds")}), file=sys.stderr)


def _recipe_name(path: Path) -> str:
    """A recipe as ``result.json`` and the results file name it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _check_recipe(folder: Path, done: dict, recipe: Path) -> None:
    """Refuse a run that names another recipe than ``--recipe``.

    Runs written before stop 47 name none (the default recipe's, and e.g. ``full_en.yaml``'s GPU runs): they are
    taken as they always were, on the command's word.
    """
    ran = done.get("recipe")
    if ran is not None and done.get("arm") != "start" and ran != _recipe_name(recipe):  # start: no rows to differ
        raise SystemExit(f"{folder}/result.json: trained on {ran}, not on --recipe {_recipe_name(recipe)}; "
                         f"report or score each recipe's runs from their own folder")  # fmt: skip


def _check_run(folder: Path, done: dict) -> None:
    """Refuse a ``result.json`` whose model cannot be found again, before any run is scored."""
    arm, info = done.get("arm"), done.get("info", {})
    if arm not in ARMS or "seed" not in done:
        raise SystemExit(f"{folder}/result.json: not a run of this script (arm {arm!r})")
    if arm not in ("start", *PLAIN_ARMS, *MERGED_ARMS) and "model_path" not in info:
        raise SystemExit(f"{folder}/result.json does not name its model (written before the model path was "
                         f"recorded); run the {arm} arm again")  # fmt: skip
    if arm in MERGED_ARMS and not {"source", "weight"} <= set(info):
        raise SystemExit(f"{folder}/result.json does not name the run it merged; run the {arm} arm again")
    if arm in MERGED_ARMS:  # the source run and, for the stage-1 merge, its stage-1 model are still there
        _merge_source(_source_folder(info), done["seed"], info["weight"], arm)


def _source_folder(info: dict) -> Path:
    """The folder of the run a merged arm merged, as recorded (relative: to the working folder, else the repo)."""
    source = Path(info["source"])
    return source if source.is_absolute() or source.is_dir() else REPO / source


def _run_model(recipe, folder: Path, done: dict):
    """The model a finished run scored, loaded again: from its folder, or merged again (0.4 s) for a merged arm."""
    from sentence_transformers import SentenceTransformer

    from st_plus import load_model

    arm, info = done["arm"], done["info"]
    if arm == "start":
        return load_model(recipe.model.base)
    if arm in MERGED_ARMS:
        source = _source_folder(info)
        checked = _merge_source(source, done["seed"], info["weight"], arm)
        return _run_merged(recipe, source, checked, info["weight"], arm)["model"]
    path = folder / ("model" if arm in PLAIN_ARMS else info["model_path"])
    if not path.is_dir():
        raise SystemExit(f"{folder}: the model of this {arm!r} run is gone ({path})")
    return SentenceTransformer(str(path))


def _fresh_tasks(folders: list[Path] | None) -> list[Path]:
    if not folders:
        raise SystemExit("--split fresh needs --tasks: the task folders of the fresh split")
    missing = [str(p) for p in folders if not (p / "task.json").is_file()]
    if missing:
        raise SystemExit(f"not task folders (no task.json): {', '.join(missing)}")
    return sorted(folders)


def score_test(args: argparse.Namespace) -> None:
    """Score every finished run under FOLDER on the shipped English test slices, once (held out from every choice).

    ``--split fresh --tasks DIR ...``: on the task folders of a split carved after a verdict (a confirmation that
    neither dev nor test can give once both were read); written to ``RUN/fresh_result.json``.
    """
    from st_plus.training.checkpoints import atomic_write_text

    recipe = _load_recipe(args)
    split = getattr(args, "split", "test")
    tasks = _test_tasks() if split == "test" else _fresh_tasks(args.tasks)
    folders = sorted(p.parent for p in args.folder.glob("*/result.json"))
    if not folders:
        raise SystemExit(f"no */result.json under {args.folder}")
    runs = {folder: json.loads((folder / "result.json").read_text(encoding="utf-8")) for folder in folders}
    for folder, done in runs.items():
        _check_run(folder, done)  # every run before the first is scored
        _check_recipe(folder, done, args.recipe)
    for folder, done in runs.items():
        target = folder / RESULT_FILES[split]
        if target.is_file():
            print(f"{folder}: already scored on the {split} tasks ({target.name}), skipped", file=sys.stderr)
            continue
        scores = _score(_run_model(recipe, folder, done), tasks)
        result = {**{k: done[k] for k in ("arm", "seed", "seconds", "info")}, "scores": scores, "split": split,
                  **({"recipe": done["recipe"]} if "recipe" in done else {})}  # fmt: skip
        if split == "fresh":
            result["tasks"] = [str(t.resolve().relative_to(REPO)) if t.resolve().is_relative_to(REPO) else str(t)
                               for t in tasks]  # fmt: skip
        atomic_write_text(target, json.dumps(result, indent=2) + "\n")
        print(json.dumps({"run": str(folder), "arm": done["arm"], "seed": done["seed"]}), file=sys.stderr)


# ------------------------------------------------------------------------------------------------------- lanes


def _lane_jobs(args: argparse.Namespace) -> list[dict]:
    """The runs of ``lanes``, in launch order: the st_plus arm's seeds, then the plain arm's."""
    jobs = [{"arm": args.arm, "seed": s, "after": None} for s in args.seeds]
    if args.plain:
        jobs += [{"arm": args.plain, "seed": s, "after": args.out / f"{args.arm}-{s}"} for s in args.seeds]
    for job in jobs:
        job["out"] = args.out / f"{job['arm']}-{job['seed']}"
    return jobs


def _lane_command(args: argparse.Namespace, job: dict) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "run", "--arm", job["arm"], "--seed", str(job["seed"]),
               "--out", str(job["out"]), "--recipe", str(args.recipe)]  # fmt: skip
    if job["after"] is not None:
        command += ["--budget-from", str(job["after"])]
    if args.base is not None:
        command += ["--base", str(args.base)]
    return command


def lanes(args: argparse.Namespace, popen=None) -> None:
    """Runs an st_plus arm and, optionally, a plain arm on the same seeds, ``--lanes`` jobs at a time, one thread each.

    A free lane takes the first job, in the order st_plus arm's seeds then plain arm's seeds, that can start: a plain
    run only once the st_plus run of its seed has exited with its ``result.json`` (its seconds are the plain run's
    budget). With 2 lanes and seeds 42 43 44 that gives the slots (st_plus 42 | st_plus 43), (st_plus 44 | plain 42),
    (plain 43 | plain 44) of the stop 45-46 runs when the st_plus runs finish in seed order. A run whose
    ``result.json`` exists is skipped (an interrupted schedule continues); each run's output goes to
    ``OUT/ARM-SEED.log``. If a run fails, nothing more starts, the running ones finish, and the command exits with
    the failed run's log named. If this command itself stops (an exception, Ctrl-C), its running runs are stopped too.
    """
    import subprocess

    popen = popen or subprocess.Popen
    if args.arm in ("start", *PLAIN_ARMS, *MERGED_ARMS):
        raise SystemExit(f"--arm {args.arm}: lanes runs a training st_plus arm (the plain arm goes in --plain)")
    if args.plain is not None and args.plain not in PLAIN_ARMS:
        raise SystemExit(f"--plain {args.plain}: not a plain arm ({', '.join(PLAIN_ARMS)})")
    if args.lanes < 1 or len(set(args.seeds)) != len(args.seeds):
        raise SystemExit(f"--lanes must be >= 1 and --seeds distinct, got {args.lanes} and {args.seeds}")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args.out.mkdir(parents=True, exist_ok=True)
    pending = []
    for job in _lane_jobs(args):  # a finished run of another recipe is not this schedule's: refuse before any start
        done = job["out"] / "result.json"
        if not done.is_file():
            pending.append(job)
        else:
            _check_recipe(job["out"], json.loads(done.read_text(encoding="utf-8")), args.recipe)
    running: list[tuple] = []  # (job, process, log file)
    failed: list[dict] = []

    def say(text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    def can_start(job: dict) -> bool:
        after = job["after"]
        busy = {r["out"] for r, _, _ in running}
        return after is None or (after not in busy and (after / "result.json").is_file())

    try:
        while pending or running:
            for job, process, log in list(running):
                rc = process.poll()
                if rc is None:
                    continue
                log.close()
                running.remove((job, process, log))
                say(f"done {job['out'].name} rc={rc}")
                if rc != 0:
                    failed.append(job)
            while not failed and len(running) < args.lanes:
                ready = next((j for j in pending if can_start(j)), None)
                if ready is None:
                    break
                pending.remove(ready)
                log = open(args.out / f"{ready['out'].name}.log", "w", encoding="utf-8")  # noqa: SIM115 (closed below)
                say(f"start {ready['out'].name}")
                try:
                    process = popen(_lane_command(args, ready), stdout=log, stderr=subprocess.STDOUT, env=env)
                except BaseException:
                    log.close()
                    raise
                running.append((ready, process, log))
            if failed and not running:
                break
            if not running and pending:  # nothing can start: a plain run waits for an st_plus run that did not finish
                raise SystemExit(f"no run can start: {[j['out'].name for j in pending]} wait for runs that did not "
                                 "write their result.json")  # fmt: skip
            time.sleep(args.poll_seconds)
    finally:  # this command stopped early (an exception, Ctrl-C): no run goes on unattended
        for job, process, log in running:
            if process.poll() is None:
                say(f"stopping {job['out'].name}")
                process.terminate()
                process.wait()
            log.close()
    if failed:
        raise SystemExit(f"failed: {', '.join(str(args.out / (j['out'].name + '.log')) for j in failed)}")


# ----------------------------------------------------------------------------------------------------- report


def _is_retrieval(task: str) -> bool:
    return task.startswith("retrieval_")


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _budget_from(plain: dict, run: dict) -> bool:
    """Whether a plain run's wall-clock budget was this st_plus run's seconds (``--budget-from`` that run).

    ``report --equal-budget-only`` pairs a plain arm with an st_plus arm only on such seeds (stop 45's reports);
    without it every common seed is paired, as the earlier reports were (the README says where such a row was not at
    equal wall clock), so their files regenerate unchanged.
    """
    budget = plain["info"].get("budget_seconds")
    if budget is None:
        return True
    # a merged arm's seconds are its source run's plus the merge's: a plain run budgeted from that source pairs too
    return any(abs(budget - s) < 0.1 for s in (run["seconds"], run["info"].get("source_seconds")) if s is not None)


def report(args: argparse.Namespace) -> None:
    split = getattr(args, "split", "dev")
    equal_budget_only = getattr(args, "equal_budget_only", False)
    name = RESULT_FILES[split]
    paths = sorted(args.folder.glob(f"*/{name}"))
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    for path, r in zip(paths, runs, strict=True):
        _check_recipe(path.parent, r, args.recipe)
    if not runs:
        raise SystemExit(f"no */{name} under {args.folder}" + (f": run `test {args.folder}` first" if split == "test"
                                                                else ""))  # fmt: skip
    tasks = sorted(runs[0]["scores"])
    by_arm: dict[str, dict[int, dict]] = {}
    for r in runs:
        by_arm.setdefault(r["arm"], {})[r["seed"]] = r
    arms = {}
    for arm, seeds in by_arm.items():
        per_seed = {}
        for seed, r in sorted(seeds.items()):
            s = r["scores"]
            per_seed[seed] = {
                "retrieval": _mean([s[t] for t in tasks if _is_retrieval(t)]),
                "all": _mean([s[t] for t in tasks]),
                "seconds": r["seconds"],
                "steps": r["info"].get("steps"),
                **{t: s[t] for t in tasks},
                "info": r["info"],  # the run's own record: filter, mining and refresh counts, the plain budget
            }
        keys = ["retrieval", "all", "seconds", *tasks]
        arms[arm] = {
            "seeds": sorted(seeds),
            "mean": {k: _mean([v[k] for v in per_seed.values()]) for k in keys},
            "std": {k: _std([v[k] for v in per_seed.values()]) for k in keys},
            "per_seed": {str(k): v for k, v in per_seed.items()},
        }

    def paired(a: str, b: str) -> dict | None:
        if a not in arms or b not in arms:
            return None
        start = b == "start"  # untrained: one run, the same for every seed
        common = sorted(arms[a]["seeds"]) if start else sorted(set(arms[a]["seeds"]) & set(arms[b]["seeds"]))
        if equal_budget_only and b in PLAIN_ARMS and a not in PLAIN_ARMS:  # only seeds whose budget came from `a`
            common = [s for s in common if _budget_from(arms[b]["per_seed"][str(s)], arms[a]["per_seed"][str(s)])]
        other = (lambda s: arms[b]["per_seed"][str(arms[b]["seeds"][0])]) if start else (
            lambda s: arms[b]["per_seed"][str(s)])  # fmt: skip
        diff = {k: [arms[a]["per_seed"][str(s)][k] - other(s)[k] for s in common]
                for k in ("retrieval", "all", *tasks)}  # fmt: skip
        return {"seeds": common, "per_seed": diff, "mean": {k: _mean(v) for k, v in diff.items()},
                "std": {k: _std(v) for k, v in diff.items()}}  # fmt: skip

    comparisons = {f"{a} - {b}": paired(a, b) for a, b in
                   (("st_plus", "plain"), ("st_plus", "st_plus_static"), ("st_plus", "st_plus_inbatch"),
                    ("st_plus", "st_plus_nofilter"), ("st_plus_nofilter", "plain"), ("st_plus_stage1x3", "plain"),
                    ("st_plus_stage1x3", "st_plus_nofilter"), ("st_plus_allrows", "plain"),
                    ("st_plus_allrows", "st_plus_nofilter"), ("st_plus_prompts", "plain"),
                    ("st_plus_prompts", "st_plus_nofilter"), ("st_plus_prompts", "plain_prompts"),
                    ("plain_prompts", "plain"), ("st_plus_query_prompt", "plain"),
                    ("st_plus_query_prompt", "st_plus_nofilter"), ("st_plus_query_prompt", "st_plus_prompts"),
                    ("st_plus_siblings", "plain"), ("st_plus_siblings", "st_plus_nofilter"),
                    ("st_plus_siblings_static", "plain"), ("st_plus_siblings_static", "st_plus_siblings"),
                    ("st_plus_siblings_static", "plain_bf16_mining"), ("plain_bf16_mining", "plain"),
                    ("st_plus_siblings_noattn", "plain_bf16_mining"), ("st_plus_siblings_noattn", "plain_bf16_noattn"),
                    ("plain_bf16_noattn", "plain_bf16_mining"), ("st_plus_siblings_lr", "st_plus_siblings_static"),
                    ("st_plus_siblings_wide", "st_plus_siblings_static"),
                    ("st_plus_siblings_noattn", "st_plus_siblings_static"),
                    ("st_plus_merged", "st_plus"),
                    ("st_plus_merged", "plain"),
                    ("st_plus_siblings_short", "plain_bf16_noattn"),
                    ("st_plus_siblings_short", "st_plus_siblings_noattn"),
                    ("st_plus_siblings_short", "st_plus_siblings_short_explicit"),
                    ("st_plus_siblings_short", "plain_bf16_noattn_gist"),
                    ("plain_bf16_noattn_gist", "plain_bf16_noattn"),
                    ("st_plus_merged_stage1", "st_plus_siblings_noattn"),
                    ("st_plus_merged_stage1", "plain_bf16_noattn"),
                    ("st_plus_merged", "plain_bf16_noattn"), ("st_plus_merged", "st_plus_siblings_short"),
                    ("st_plus", "plain_bf16_noattn"),  # today's full_en.yaml (its st_plus arm is _short; stop 51)
                    ("st_plus_static", "plain"), ("st_plus", "start"), ("plain", "start"))}  # fmt: skip
    comparisons = {k: v for k, v in comparisons.items() if v is not None and v["seeds"]}
    goals = {}
    for plain in ("plain", "plain_bf16_noattn"):  # the latter: the strongest plain arm measured (stops 45-51)
        if (c := comparisons.get(f"st_plus - {plain}")) is None:
            continue
        goals[f"st_plus >= {plain} + 1.0 on {split} retrieval, every seed positive"] = (
            c["mean"]["retrieval"] >= 1.0 and all(d > 0 for d in c["per_seed"]["retrieval"]))  # fmt: skip
        goals[f"st_plus >= {plain} + 0.5 on the mean of all {split} tasks"] = c["mean"]["all"] >= 0.5
    if "st_plus - st_plus_static" in comparisons:
        goals[f"dynamic >= static + 0.5 on {split} retrieval"] = comparisons["st_plus - st_plus_static"]["mean"][
            "retrieval"] >= 0.5  # fmt: skip
    recipe = _recipe_name(args.recipe)
    # the dev results keep their old layout (no key added), so old files still compare equal
    source = ({"split": "test", "test_slices": "examples/data (TEST_TASKS)"} if split == "test"
              else {"split": "fresh", "tasks_built_by": "benchmarks/make_dev_suite.py --debian-bucket N",
                    "task_folders": runs[0].get("tasks", [])} if split == "fresh"
              else {"dev_suite": "benchmarks/make_dev_suite.py"})  # fmt: skip
    output = {"recipe": recipe, **source, "tasks": tasks, "arms": arms, "comparisons": comparisons, "goals": goals}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    print(_table(output))


def _table(data: dict) -> str:
    arms, tasks, split = data["arms"], data["tasks"], data.get("split", "dev")
    order = [a for a in ARMS if a in arms]
    short = [t.replace("_dev_en", "") if split == "dev" else t.removesuffix("_en") for t in tasks]
    lines = [f"| arm | seeds | wall s | {split} retrieval ({sum(map(_is_retrieval, tasks))}) | {split} mean (all) | "
             + " | ".join(short) + " |",
             "|---|---:|---:|---:|---:|" + "---:|" * len(tasks)]  # fmt: skip
    for arm in order:
        m, s = arms[arm]["mean"], arms[arm]["std"]
        cells = [f"{m[t]:.2f}" for t in tasks]
        head = f"| {arm} | {len(arms[arm]['seeds'])} | {m['seconds']:.0f} | {m['retrieval']:.2f} ± "
        head += f"{s['retrieval']:.2f}"
        lines.append(f"{head} | {m['all']:.2f} ± {s['all']:.2f} | " + " | ".join(cells) + " |")
    lines += ["", f"| paired difference | seeds | {split} retrieval: mean ± std (per seed) | {split} mean (all): "
              "mean ± std (per seed) |", "|---|---|---:|---:|"]  # fmt: skip
    for name, c in data["comparisons"].items():
        cells = [f"{c['mean'][k]:+.2f} ± {c['std'][k]:.2f} ({', '.join(f'{d:+.2f}' for d in c['per_seed'][k])})"
                 for k in ("retrieval", "all")]  # fmt: skip
        lines.append(f"| {name} | {', '.join(map(str, c['seeds']))} | {cells[0]} | {cells[1]} |")
    lines += ["", *(f"- {goal}: **{'met' if ok else 'not met'}**" for goal, ok in data["goals"].items())]
    return "\n".join(lines)


def scale(args: argparse.Namespace) -> dict:
    """One comparison of several results files (one recipe each: more rows, same arms) as a curve against the rows.

    Per file: the recipe, the plain arm's training rows per seed (its record: the stage-1 pairs its mining kept, those
    for which it found every negative outside its margin, and each stage-2 file's rows; the st_plus arm trains stage 1
    on every sampled pair, and within its budget ``plain`` may read only part of its rows), the mean seconds and the
    steps on the compared seeds, and the paired differences of ``--comparison`` (mean, std, per seed) on retrieval,
    on all tasks and per task. Every file must have the same split and tasks. Writes ``--output`` (and ``--plot``);
    measures nothing.
    """
    a, _, b = args.comparison.partition(" - ")
    if not a or not b or a == b:
        raise SystemExit(f"--comparison {args.comparison!r}: two different arms, 'A - B'")
    points, first = [], None
    for path in args.results:
        data = json.loads(path.read_text(encoding="utf-8"))
        c = data["comparisons"].get(args.comparison)
        if c is None:
            raise SystemExit(f"{path}: no comparison {args.comparison!r} (it has: {', '.join(data['comparisons'])})")
        kind = (data.get("split", "dev"), data["tasks"])
        first = first or (path, kind)
        if kind != first[1]:
            raise SystemExit(f"{path}: split and tasks {kind} differ from {first[0]}'s {first[1]}")
        plain = b if b in PLAIN_ARMS else a
        if plain not in PLAIN_ARMS:
            raise SystemExit(f"--comparison {args.comparison!r}: one side must be a plain arm (it records the rows)")
        seeds = data["arms"][plain]["per_seed"]
        per_seed = [seeds[str(s)]["info"]["rows"] for s in c["seeds"]]  # stage 1: the pairs its mining kept
        rows = {name: [r[name] for r in per_seed] for name in per_seed[0]}
        points.append({
            "results": _recipe_name(path), "recipe": data["recipe"], "rows": rows,
            "rows_total": _mean([sum(r.values()) for r in per_seed]),
            "seconds": {arm: _mean([data["arms"][arm]["per_seed"][str(s)]["seconds"] for s in c["seeds"]])
                        for arm in (a, b)},
            "steps": {arm: [data["arms"][arm]["per_seed"][str(s)]["steps"] for s in c["seeds"]] for arm in (a, b)},
            "seeds": c["seeds"], "mean": c["mean"], "std": c["std"], "per_seed": c["per_seed"],
        })  # fmt: skip
    points.sort(key=lambda p: p["rows_total"])
    output = {"comparison": args.comparison, "split": first[1][0], "points": points}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    if args.plot is not None:
        _plot_scale(output, args.plot)
    print(_scale_table(output))
    return output


def _scale_table(data: dict) -> str:
    a, b = data["comparison"].split(" - ")
    lines = [f"| plain's rows (stage-1 pairs kept by its mining + stage-2 files) | budget s | steps ({a}; {b}) | "
             f"seeds | {data['comparison']}: retrieval | all |",
             "|---|---:|---|---|---:|---:|"]  # fmt: skip
    for p in data["points"]:
        rows = " + ".join(f"{min(n):,}" + (f"-{max(n):,}" if max(n) > min(n) else "") for n in p["rows"].values())
        steps = "; ".join(", ".join(str(s) if not isinstance(s, dict) else "+".join(map(str, s.values()))
                                    for s in arm_steps) for arm_steps in p["steps"].values())  # fmt: skip
        cells = [f"{p['mean'][k]:+.2f} ± {p['std'][k]:.2f} ({', '.join(f'{d:+.2f}' for d in p['per_seed'][k])})"
                 for k in ("retrieval", "all")]  # fmt: skip
        budget = max(p["seconds"].values())
        seeds = ", ".join(map(str, p["seeds"]))
        lines.append(f"| {rows} (mean {p['rows_total']:,.0f}) | {budget:.0f} | {steps} | {seeds} | {cells[0]} | "
                     f"{cells[1]} |")  # fmt: skip
    tasks = [k for k in data["points"][0]["mean"] if k not in ("retrieval", "all")]
    lines += ["", "| plain's rows (mean) | " + " | ".join(t.replace("_dev_en", "") for t in tasks) + " |",
              "|---:|" + "---:|" * len(tasks)]  # fmt: skip
    for p in data["points"]:
        lines.append(f"| {p['rows_total']:,.0f} | " + " | ".join(f"{p['mean'][t]:+.2f}" for t in tasks) + " |")
    return "\n".join(lines)


def _plot_scale(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [p["rows_total"] for p in data["points"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, goal, color in (("retrieval", 1.0, "tab:blue"), ("all", 0.5, "tab:orange")):
        label = f"{data['split']} {key} (mean ± std over seeds)"
        ax.errorbar(x, [p["mean"][key] for p in data["points"]], yerr=[p["std"][key] for p in data["points"]],
                    marker="o", capsize=3, color=color, label=label)  # fmt: skip
        for p in data["points"]:
            ax.scatter([p["rows_total"]] * len(p["per_seed"][key]), p["per_seed"][key], s=10, color=color, alpha=0.4)
        ax.axhline(goal, color=color, linestyle=":", linewidth=1, label=f"issue 14's goal ({key})")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("plain's training rows: stage-1 pairs kept by its mining + STS-B (mean over seeds)")
    ax.set_ylabel("paired difference (points)")
    ax.set_title(data["comparison"], fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train (or not) one arm with one seed and score it on the dev suite")
    p.add_argument("--arm", choices=ARMS, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--budget-from", type=Path, help="plain arm: the st_plus run whose seconds are the budget")
    p.add_argument("--merge-from", type=Path, help="st_plus_merged(_stage1) arm: the run whose model is merged")
    p.add_argument("--merge-weight", type=float, default=0.7, help="merged arms: the trained (stage-2) model's weight")
    p.add_argument("--recipe", type=Path, default=RECIPE)
    p.add_argument("--dev-tasks", nargs="+", help="score only these dev task folders (smoke runs; default: all)")
    p.add_argument("--base", type=Path, help="start from this model folder instead of the recipe's model.base")
    p = sub.add_parser("lanes", help="run an st_plus arm and a plain arm on seeds, two jobs of one thread at a time")
    p.add_argument("--arm", choices=ARMS, required=True, help="the st_plus arm")
    p.add_argument("--plain", choices=PLAIN_ARMS, help="the plain arm, each run given its seed's st_plus seconds")
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    p.add_argument("--out", type=Path, required=True, help="the folder of the runs (OUT/ARM-SEED, OUT/ARM-SEED.log)")
    p.add_argument("--lanes", type=int, default=2, help="jobs at a time (default 2: one per core of a 2-core machine)")
    p.add_argument("--poll-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    p.add_argument("--recipe", type=Path, default=RECIPE)
    p.add_argument("--base", type=Path, help="start from this model folder instead of the recipe's model.base")
    p = sub.add_parser("test", help="score every finished run under FOLDER on the shipped English test slices, once")
    p.add_argument("folder", type=Path)
    p.add_argument("--split", choices=("test", "fresh"), default="test",
                   help="fresh: score on --tasks (a split carved after the verdicts) into RUN/fresh_result.json")
    p.add_argument("--tasks", type=Path, nargs="+", help="--split fresh: the task folders")
    p.add_argument("--recipe", type=Path, default=RECIPE)
    p.add_argument("--base", type=Path, help="the start model folder, if the runs used --base")
    p = sub.add_parser("report", help="combine every RUN/result.json under FOLDER into the results file")
    p.add_argument("folder", type=Path)
    p.add_argument("--output", type=Path, default=RESULTS)
    p.add_argument("--recipe", type=Path, default=RECIPE)
    p.add_argument("--split", choices=tuple(RESULT_FILES), default="dev",
                   help="dev: RUN/result.json (default); test / fresh: RUN/test_result.json / RUN/fresh_result.json, "
                   "written by `test`")
    p.add_argument("--equal-budget-only", action="store_true",
                   help="pair a plain arm only with the st_plus runs whose seconds were its budget (stop 45 on; "
                   "without it, as before: every common seed)")
    p = sub.add_parser("scale", help="one comparison across results files of more rows: the curve (stop 47)")
    p.add_argument("--results", type=Path, nargs="+", required=True)
    p.add_argument("--comparison", default="st_plus_siblings_short - plain_bf16_noattn")
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--plot", type=Path, help="a PNG of the curve (optional)")
    p = sub.add_parser("table", help="print the README table from the results file")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.command == "run":
        run(args)
    elif args.command == "lanes":
        lanes(args)
    elif args.command == "test":
        score_test(args)
    elif args.command == "report":
        report(args)
    elif args.command == "scale":
        scale(args)
    else:
        print(_table(json.loads(args.results.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
