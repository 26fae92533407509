"""The training recipe: what ``st-plus train RECIPE.yaml`` runs, validated before any work starts.

A recipe is a YAML file whose keys map onto the dataclasses below; every field has a documented default. Relative
paths are resolved against the recipe file's folder. Unknown keys, wrong types, missing files and impossible
combinations raise :class:`RecipeError` naming the file, the line and the key, e.g.
``quickstart.yaml:14: stages.contrastive.batch_size: expected an integer, got 'big'``.

Example (``examples/recipes/quickstart.yaml`` is the full one)::

    name: quickstart
    model: {base: default, max_seq_length: 128}
    stages:
      contrastive:
        data: [{path: ../training_data/debian_pairs_en.jsonl.gz, group_column: source, rows: 2000}]
        batch_size: 64
      multitask:
        tasks:
          - {name: sts, type: sts, data: {path: ../training_data/stsb_train_en.jsonl}}
    evaluation: {tasks: [../data/*/]}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from st_plus.training._yaml import RecipeError, load_yaml_with_lines
from st_plus.training.recipe_checks import RecipeBuilder, check_recipe

__all__ = [
    "AugmentSpec",
    "AdapterSpec",
    "ContrastiveStage",
    "DistillStage",
    "DataSpec",
    "EvaluationSpec",
    "FilterSpec",
    "LongContextStage",
    "MergeSpec",
    "MlmStage",
    "ModelSpec",
    "MultitaskStage",
    "NegativesSpec",
    "Recipe",
    "RecipeError",
    "StagesSpec",
    "TaskSpec",
    "load_recipe",
    "recipe_to_dict",
]

Evaluate = Literal["all", "none"] | list[str]

#: LoRA targets when ``adapter.target_modules`` is not set: every linear layer of a BERT block.
DEFAULT_TARGETS = ("query", "key", "value", "dense")


@dataclass
class AugmentSpec:
    """Augmented copies of a pairs / triplets file's rows as extra training rows (:mod:`st_plus.augment`).

    Each row gets ``num`` copies whose ``columns`` are augmented (seeded with the recipe's seed); a copy shares its
    original's group, so the two are never each other's mined or in-batch negatives (stage 1) nor mined negatives
    (stage 2). Back-translation needs an LLM endpoint: make its rows offline with ``st-plus augment``.

    Attributes:
        method: ``cutoff`` (a span of words removed), ``repeat`` (ESimCSE word repetition) or ``eda`` (swaps,
            deletions, and synonym replacement with ``synonyms``).
        num: Copies per row.
        columns: The columns to augment.
        synonyms: EDA's synonym dictionary (JSON, or one group of synonyms a line).
    """

    method: Literal["cutoff", "repeat", "eda"]
    num: int = 1
    columns: list[str] = field(default_factory=lambda: ["positive"])
    synonyms: str | None = None


@dataclass
class DataSpec:
    """One training file: ``.jsonl`` / ``.jsonl.gz`` rows (``load_training_rows``; ``load_labelled_texts`` for labels).

    Attributes:
        path: The file.
        rows: Use a sample of ``rows`` rows, drawn with the recipe's seed in file order (default: all).
        group_column: A bookkeeping column (e.g. Debian's ``source``) whose equal values are never each other's
            negatives; kept for mining and the consistency filter.
        name: The dataset's name in the model card (default: the file name).
        license: The data's licence, for the model card.
        columns: The file's columns to train on (e.g. ``[anchor, positive]``); every other column is dropped.
            Without it, a column that is neither the layout's (``anchor, positive, negative`` / ``sentence1,
            sentence2, score`` / ``query, docs, labels``) nor ``group_column`` is an error naming it.
        unsupervised: Stage 1 only: ``path`` is a text-only file (``{"text"}`` rows or one text per line) and each
            text's positive is itself (``simcse``: dropout makes the two encodings differ), or its augmented copy
            (``repeat``: ESimCSE word repetition, ``cutoff``: a word span removed, ``eda``: swaps and deletions);
            see :func:`st_plus.augment.unsupervised_pairs`.
        augment: Add augmented copies of the rows as extra rows (extra positives): see :class:`AugmentSpec`.
    """

    shorthand: ClassVar[str] = "path"  # `data: FILE` means `data: {path: FILE}`

    path: str
    rows: int | None = None
    group_column: str | None = None
    name: str | None = None
    license: str | None = None
    columns: list[str] | None = None
    unsupervised: Literal["simcse", "repeat", "cutoff", "eda"] | None = None
    augment: AugmentSpec | None = None


@dataclass
class ModelSpec:
    """The starting model.

    Attributes:
        base: ``"default"`` (the bundled all-MiniLM-L6-v2), a local folder, or ``None`` when ``stages.mlm``
            pre-trains a new NomicBERT-style encoder.
        max_seq_length: Truncation length while training (default: the model's own). A short one trains faster;
            it is not saved into the model.
        inference_max_seq_length: Truncation length of every evaluation and of the saved model (default: the
            base model's own; for an encoder pre-trained here, ``stages.mlm.max_seq_length``).
    """

    base: str | None = "default"
    max_seq_length: int | None = None
    inference_max_seq_length: int | None = None


@dataclass
class MlmStage:
    """Stage 0: masked-LM training, of a new NomicBERT-style encoder or of the base model (continued).

    With ``model.base: null`` it trains a WordPiece tokenizer and pre-trains a new encoder of ``preset``. With a
    base model it continues MLM training of that model (:func:`st_plus.models.continue_mlm`), after adding the
    CJK characters the texts need to its vocabulary when ``extend_vocab`` is set
    (:func:`st_plus.models.extend_vocabulary`): ``new_rows_steps`` steps train only the new rows, then
    ``max_steps`` steps train every weight. Restarted from its beginning on ``--resume`` when it was interrupted
    (it is deterministic for a seed).

    Attributes:
        data: Text files (JSONL rows' string fields, or one text per line).
        max_texts: At most this many distinct texts (shuffled with the recipe's seed).
        preset: New encoder only: ``build_nomic_bert`` preset (``tiny``, ``micro``, ``mini``, ``small``, ...).
        vocab_size: New encoder only: WordPiece vocabulary size (padded to a multiple of 64).
        lowercase: New encoder only: lower-case the tokenizer's input.
        extend_vocab: Base model only: add every CJK character seen ``vocab_min_count`` times in ``data`` that
            the tokenizer maps to ``[UNK]`` (the vocabulary stays a multiple of 64).
        vocab_min_count: See ``extend_vocab``.
        vocab_init: How the new embedding rows start: ``random`` (noise with the existing rows' per-dimension
            mean and spread; best on dev), ``mean`` (of every row), ``cjk`` (of the CJK rows the vocabulary has) or
            ``unk`` (measured in the README, "Chinese").
        new_rows_steps: Base model only: steps that train only the new rows (and the fresh MLM head) first.
        new_rows_learning_rate: Their peak learning rate.
        max_steps: Optimiser steps (for a base model: the steps that train every weight; 0 skips them).
        batch_size: Sequences per step.
        learning_rate: Peak learning rate (warm-up 50 steps, then linear decay).
        max_seq_length: Tokens per sequence.
        mask_rate: Share of masked tokens (Nomic: 0.3).
        group_by_length: Batch texts of similar length together (less padding, faster on CPU).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    data: list[str]
    max_texts: int | None = None
    preset: str = "tiny"
    vocab_size: int = 8192
    lowercase: bool = True
    extend_vocab: bool = False
    vocab_min_count: int = 2
    vocab_init: Literal["mean", "cjk", "unk", "random"] = "random"
    new_rows_steps: int = 0
    new_rows_learning_rate: float = 1e-3
    max_steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 5e-4
    max_seq_length: int = 128
    mask_rate: float = 0.3
    group_by_length: bool = True
    evaluate: Evaluate = "none"


@dataclass
class FilterSpec:
    """Consistency filtering of the stage-1 pairs with the stage-1 model (:func:`st_plus.mining.consistency_filter`).

    Attributes:
        top_k: The positive must rank in the anchor's top ``top_k`` (``None``: no rank test).
        min_score: And/or score at least this cosine (``None``: no score test).
    """

    top_k: int | None = 2
    min_score: float | None = None


@dataclass
class ContrastiveStage:
    """Stage 1: weakly supervised contrastive pre-training with in-batch negatives (InfoNCE / MNRL).

    Attributes:
        data: The (anchor, positive) files.
        batch_size: Per-process batch (the in-batch negatives; large batches through ``mini_batch_size``).
        mini_batch_size: Use sentence-transformers' ``CachedMultipleNegativesRankingLoss`` (GradCache) with this
            mini-batch, so ``batch_size`` can exceed what fits in memory.
        epochs: Passes over the data (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps.
        learning_rate: Peak learning rate (linear warm-up, then linear decay).
        warmup_ratio: Share of the steps spent warming up.
        scale: Inverse temperature of the loss.
        gather_across_devices: Gather in-batch negatives from every process (no effect with one process).
        prompts: ``{"query": ..., "document": ...}`` prompts of the anchor and positive columns; recorded in the
            model (``model.prompts``) before the stage trains, so that it is read with them afterwards
            (:func:`st_plus.training.prompts.record_prompts`).
        filter: Consistency filtering after the stage (``null`` to skip); the dropped rows go to a side file.
        length_grouped: Batch rows of similar length (less padding, faster; on by default): the shuffled rows are
            sorted by their longest text (in tokens, at the model's training length) within pools of 50 batches,
            batched (still group-aware) and the batches shuffled, so each batch's in-batch negatives are still drawn
            from a random pool of the data (:class:`st_plus.samplers.GroupAwareBatchSampler` with lengths).
            ``false`` gives sentence-transformers' random batches.
        attention_dropout: The model's attention-probability dropout while the stage trains (``0.0``: none, as
            Nomic Embed trains; on CPU that dropout is most of attention's cost); ``null`` keeps the model's own
            (BERT: 0.1). The saved model's configuration is unchanged (:func:`st_plus.models.attention_dropout`).
        save_steps: Checkpoint interval (steps).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    data: list[DataSpec]
    batch_size: int = 64
    mini_batch_size: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0
    gather_across_devices: bool = True
    prompts: dict[str, str] = field(default_factory=dict)
    filter: FilterSpec | None = field(default_factory=FilterSpec)
    length_grouped: bool = True
    attention_dropout: float | None = None
    save_steps: int = 50
    evaluate: Evaluate = "all"


@dataclass
class NegativesSpec:
    """Hard negatives of a retrieval task: mined before stage 2, optionally refreshed while training (Conan).

    Attributes:
        method: ``hybrid`` (BM25 + dense), ``dense`` or ``bm25``.
        num_negatives: Negatives per row.
        range_min: Skip the top ``range_min`` candidates ("hard but not too hard").
        range_max: Sample from candidates up to this rank.
        corpus: Extra documents to mine from, beyond the task's positives (files read like ``mlm.data``): mining
            from the whole document pool rather than the training rows gives harder, more varied negatives.
        corpus_fields: The JSONL fields of ``corpus`` that hold documents (e.g. ``[positive]`` to take only the
            descriptions of a title -> description pairs file); default: every text field.
        corpus_group_field: The JSONL field of ``corpus`` rows that holds their group key (e.g. ``source``, matched
            with the stage-1 pairs' ``group_column``): the false-negative guard then knows the pool's members of a
            row's group, and ``group_negatives`` can use them.
        group_negatives: Up to this many of a row's ``num_negatives`` are documents of its own group whose text
            differs from its positives (e.g. the other packages of a Debian source), most similar first; the rest
            come from the rank band (see :func:`st_plus.mining.mine_hybrid_negatives`). Needs ``data: stage1`` with
            a stage-1 ``group_column``.
        dynamic: Re-score and replace negatives while training (:class:`st_plus.mining.DynamicNegativesCallback`).
        refresh_steps: Steps between refreshes.
        reindex_steps: Steps between full re-rankings with the current weights (``None``: never).
    """

    method: Literal["hybrid", "dense", "bm25"] = "hybrid"
    num_negatives: int = 3
    range_min: int = 10
    range_max: int = 100
    corpus: list[str] = field(default_factory=list)
    corpus_fields: list[str] | None = None
    corpus_group_field: str | None = None
    group_negatives: int = 0
    dynamic: bool = True
    refresh_steps: int = 50
    reindex_steps: int | None = None


@dataclass
class TaskSpec:
    """One stage-2 task.

    Attributes:
        name: Unique task name.
        type: ``retrieval`` / ``reranking`` / ``nli`` (pairs or n-tuples), ``sts`` / ``pair_classification``
            (scored pairs), ``classification`` / ``clustering`` (``text, label`` rows, trained as label triplets),
            or ``preserve``: general texts kept near the start model's (``model.base``) embeddings of them with
            ``MSECosineDistillLoss`` (against forgetting; see :mod:`st_plus.training.preserve`). A preserve task's
            ``data`` is any text file: JSONL rows give the strings of ``data.columns`` (default: the usual text
            fields), other files one text per line; ``data.rows`` distinct texts are drawn with the recipe's seed.
        data: The training file, or ``stage1`` for the stage-1 pairs (after the consistency filter, when stage 1
            has one).
        rows: With ``data: stage1``: use a sample of ``rows`` of those pairs (drawn with the recipe's seed).
        weight: Factor on the task's loss.
        batch_size: Per-process batch size of this task (default: the stage's).
        prompts: ``{"query": ..., "document": ...}`` or ``{"text": ...}``. The stage's ``query`` / ``document``
            prompts are recorded in the model when its tasks agree on them (``text`` prompts are not).
        negatives: Hard negatives (retrieval-like tasks only; ``null``: in-batch negatives only).
    """

    name: str
    type: str
    data: DataSpec | Literal["stage1"]
    rows: int | None = None
    weight: float = 1.0
    batch_size: int | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    negatives: NegativesSpec | None = None


@dataclass
class MultitaskStage:
    """Stage 2: multi-task fine-tuning, each task type with its loss (:func:`st_plus.training.build_multitask`).

    Attributes:
        tasks: The tasks.
        batch_size: Default per-process batch size.
        mini_batch_size: Gradient caching for the retrieval and ranking losses.
        epochs: Passes (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps.
        learning_rate: Peak learning rate.
        warmup_ratio: Share of the steps spent warming up.
        scale: Inverse temperature of the InfoNCE losses.
        consent_scale: Scale of the Consent (CoSENT-family) losses.
        matryoshka_dims: Wrap every loss in ``MatryoshkaLoss`` with these dimensions.
        strategy: Dataset sampling: ``proportional``, ``round_robin`` or ``temperature``.
        temperature: Temperature of the ``temperature`` strategy.
        cross_task: A sub-batch of every task per optimiser step (Conan-embedding).
        label_negatives: Candidates of the classification / clustering label triplets: ``explicit`` (each row's
            own other-label negatives only; the default) or ``in_batch_masked`` (also every other row's texts whose
            label differs from the anchor's: in-batch negatives without label false negatives; not gradient-cached
            by ``mini_batch_size``).
        gather_across_devices: Gather in-batch candidates from every process.
        length_grouped: Batch rows of similar length within each task (less padding, faster; on by default): each
            task's shuffled rows are sorted by their longest text (in tokens, at the training length) within pools
            of 50 global batches, batched and the batches shuffled; batches stay within one task and
            rank-synchronised (:class:`st_plus.samplers.RankSynchronizedBatchSampler`). ``false``: random batches.
        attention_dropout: The model's attention-probability dropout while the stage trains (as in stage 1).
        save_steps: Checkpoint interval (steps).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    tasks: list[TaskSpec]
    batch_size: int = 32
    mini_batch_size: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0
    consent_scale: float = 20.0
    matryoshka_dims: list[int] | None = None
    strategy: Literal["proportional", "round_robin", "temperature"] = "proportional"
    temperature: float = 1.0
    cross_task: bool = False
    label_negatives: Literal["explicit", "in_batch_masked"] = "explicit"
    gather_across_devices: bool = True
    length_grouped: bool = True
    attention_dropout: float | None = None
    save_steps: int = 50
    evaluate: Evaluate = "all"


@dataclass
class DistillStage:
    """Distillation before the contrastive stage: a smaller student learns the teacher's embeddings.

    The student is ``model.base`` (the teacher) with only ``student_layers`` kept, a new NomicBERT-style encoder
    of ``student_preset`` with the teacher's tokenizer, or (neither set) a copy of the teacher. It is trained with
    MSE + cosine on the teacher's embeddings of ``data`` (:func:`st_plus.training.distill.distill_model`); with
    ``parallel`` files it also learns to map each translation onto the teacher's embedding of its source text
    (Reimers & Gurevych, 2020).

    Attributes:
        data: Text files (JSONL rows' text fields, or one text per line).
        parallel: JSONL files of ``{source, translation}`` rows (cross-lingual distillation).
        student_layers: Indices of the teacher's layers the student keeps (e.g. ``[0, 2, 4]``).
        student_preset: Or a ``build_nomic_bert`` preset (``small``, ``mini``, ...): a new, narrower encoder
            that learns the teacher's Matryoshka prefix of its width.
        extend_vocab: Give the student a token for every CJK character seen at least twice in the training text
            that its tokenizer maps to ``[UNK]`` (:func:`st_plus.models.add_characters`).
        max_texts: At most this many distinct texts (shuffled with the recipe's seed).
        epochs: Passes over the texts (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps.
        max_minutes: Stop after this many minutes of training.
        batch_size: Texts per step.
        learning_rate: Peak learning rate.
        warmup_ratio: Share of the steps spent warming up.
        mse_weight: Weight of the MSE term.
        cosine_weight: Weight of the ``1 - cosine`` term.
        matryoshka_dims: Also match these prefixes of the embedding (``MatryoshkaLoss`` around the distillation).
        save_steps: Checkpoint interval (steps).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    data: list[str] = field(default_factory=list)
    parallel: list[str] = field(default_factory=list)
    student_layers: list[int] | None = None
    student_preset: str | None = None
    extend_vocab: bool = False
    max_texts: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    max_minutes: float | None = None
    batch_size: int = 64
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.05
    mse_weight: float = 1.0
    cosine_weight: float = 1.0
    matryoshka_dims: list[int] | None = None
    save_steps: int = 100
    evaluate: Evaluate = "all"


@dataclass
class LongContextStage:
    """Long-input training for late chunking: longer positions, then span pooling on long documents.

    The model's learned absolute position table is extended by copying to ``max_positions``
    (:func:`st_plus.models.extend_positions`; the first positions, and so short texts, are unchanged), then it is
    trained with :class:`~st_plus.losses.SpanPoolingLoss`: each query's gold answer span is mean-pooled from one
    pass over a window of its document of ``min_tokens``-``max_positions`` tokens, against the other rows' spans
    (in-batch, never two windows of one document in a batch), which is what late chunking computes at inference
    (:func:`st_plus.chunking.span_rows.long_document_span_rows` makes the rows). The saved model reads
    ``max_positions`` tokens.

    Attributes:
        data: A retrieval task folder with ``spans.jsonl`` (gold answer lines, e.g. QMSum's).
        split: Its qrels split to train on (never an evaluation split).
        max_positions: Positions after the extension (the longest window, and the saved ``max_seq_length``).
        min_tokens: Shortest window.
        max_tokens: Longest window (default ``max_positions``).
        max_rows: At most this many (query, span) rows.
        epochs: Passes over the rows (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps.
        max_minutes: Stop after this many minutes of training.
        batch_size: Rows per step (the in-batch negatives).
        series_pattern: A regular expression that matches at least one character: documents whose ids share its
            first match (e.g. ``^[A-Za-z]+``: QMSum's ``ES2002a`` and ``ES2016b`` are series ``ES``) form a series,
            and each batch is drawn within one series, so its negatives are other documents of that series
            (:func:`~st_plus.samplers.series_keys`); series with fewer documents than ``batch_size`` share batches,
            and a series' last batch of an epoch may be shorter. ``None``: batches across all documents.
        learning_rate: Peak learning rate.
        warmup_ratio: Share of the steps spent warming up.
        scale: Inverse temperature of the loss.
        distill_weight: Weight of the late-chunking-aware distillation term
            (:class:`~st_plus.losses.LateChunkDistillationLoss`: each block of ``distill_chunk_tokens`` tokens of a
            window, span-pooled, is pulled toward the model before this stage reading that block alone); 0: none.
        distill_chunk_tokens: Block length of the distillation term.
        chunk_window: The late-chunking window the model is meant to be used with (tokens; default
            ``max_positions``), stated in the model card.
        chunk_overlap: Tokens of each window shared with the previous one as context (long late chunking), stated
            in the card with the window.
        chunker: The chunker it is meant to be used with (``st_plus.chunking.parse_chunker``), stated in the card.
        span_target: What each row pools: ``gold``, the query's whole gold answer range, or ``chunk``, one chunk
            of ``chunker`` inside that range (the document cut as at inference; drawn with the seed), the unit late
            chunking pools.
        save_steps: Checkpoint interval (steps).
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    data: str
    split: str = "train"
    max_positions: int = 2048
    min_tokens: int = 256
    max_tokens: int | None = None
    max_rows: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    max_minutes: float | None = None
    batch_size: int = 8
    series_pattern: str | None = None
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0
    distill_weight: float = 0.0
    distill_chunk_tokens: int = 96
    chunk_window: int | None = None
    chunk_overlap: int = 0
    chunker: str = "sentences:5"
    span_target: str = "gold"
    save_steps: int = 20
    evaluate: Evaluate = "all"


@dataclass
class MergeSpec:
    """The last stage: merge the trained model with its base by weighted parameter averaging (LM-Cocktail).

    Keeps the base's general ability ("no forgetting"); see :mod:`st_plus.training.merge_weights`. The merged model
    is the run's final model.

    Attributes:
        with_: (YAML key ``with``) The model to merge with: ``base`` (the recipe's ``model.base``), ``default`` or a
            model folder (same architecture and tokenizer).
        weight: The trained model's weight in (0, 1] (the other model gets ``1 - weight``), or ``auto``: the
            largest ``grid`` weight at which no ``dev_tasks`` task falls below the ``with`` model by more than
            ``max_drop``, else the best mean (:func:`st_plus.training.merge_weights.choose_merge_weight`).
        grid: Weights tried by ``auto`` (default ``[0.3, 0.4, ..., 0.9, 1.0]``).
        dev_tasks: Development task folders for ``auto`` (globs allowed); never the held-out evaluation tasks.
        max_drop: ``auto``'s tolerance on the 0-1 scale (0.003 = 0.3 points of a x100 score).
        eval_seeds: ``auto`` scores classification and clustering dev tasks with each of these evaluation seeds
            and uses the mean (default: MTEB's seed 42 alone), so that the choice does not follow one seed's draw.
        evaluate: Tasks to evaluate after the stage: ``all``, ``none`` or task names.
    """

    with_: str = field(default="base", metadata={"key": "with"})
    weight: float | Literal["auto"] = "auto"
    grid: list[float] | None = None
    dev_tasks: list[str] = field(default_factory=list)
    max_drop: float = 0.003
    eval_seeds: list[int] | None = None
    evaluate: Evaluate = "all"


@dataclass
class AdapterSpec:
    """A LoRA adapter trained in stages 1 and 2 instead of the full model (:mod:`st_plus.training.adapters`).

    Attributes:
        method: ``lora``.
        r: Rank of the update.
        alpha: Scale numerator (the update is scaled by ``alpha / r``).
        dropout: Dropout on the adapter's input.
        target_modules: Linear layers to adapt (peft's suffix match); default every linear layer of a BERT block
            (``query``, ``key``, ``value``, ``dense``).
        merge: Save the final ``model/`` with merged weights (a plain folder) instead of the adapter (which loads
            with ``SentenceTransformer(path)`` where peft is installed).
    """

    method: Literal["lora"] = "lora"
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    target_modules: list[str] | None = None
    merge: bool = False


@dataclass
class StagesSpec:
    """The stages, run in this order; each is optional, at least one is required."""

    mlm: MlmStage | None = None
    distill: DistillStage | None = None
    contrastive: ContrastiveStage | None = None
    multitask: MultitaskStage | None = None
    long_context: LongContextStage | None = None
    merge: MergeSpec | None = None


@dataclass
class EvaluationSpec:
    """Evaluation on local task folders (:func:`st_plus.evaluation.evaluate_suite`), before and after each stage.

    Attributes:
        tasks: Task folders; globs allowed (``../data/*/``).
        batch_size: Encoding batch size.
        before: Evaluate the starting model too (the "before" column).
        matryoshka_dims: Also score these truncated dimensions at the end (a dims x score table).
        dtype: Encoding precision: ``float32`` (MTEB's numbers), ``bfloat16`` (about 2x faster on CPUs with
            AMX / AVX512-BF16; scores differ from float32 in the third decimal; emulated, and many times slower,
            on CPUs without them) or ``auto`` (bfloat16 where the CPU or GPU has it natively, else float32; what
            the shipped recipes use). Every column of the table uses it.
    """

    tasks: list[str] = field(default_factory=list)
    batch_size: int = 64
    before: bool = True
    matryoshka_dims: list[int] | None = None
    dtype: Literal["float32", "bfloat16", "auto"] = "float32"


#: How the consistency filter, the miner and the dynamic-negative refreshes encode (``Recipe.mining_precision``).
MiningDtype = Literal["float32", "bfloat16"]


@dataclass
class Recipe:
    """A training recipe.

    Attributes:
        name: The run's name (model card, logs).
        seed: Seed of data order, sampling and initialisation.
        output_dir: Where everything goes (``--output-dir`` wins); relative to the current folder.
        precision: ``auto`` (bf16 autocast where the CPU has AMX / AVX512-BF16 or the GPU supports bf16),
            ``bf16`` or ``fp32``.
        mining_precision: How the consistency filter, hard-negative mining and dynamic-negative refreshes encode:
            ``auto`` (``bfloat16`` when the run trains in bf16, else ``float32``), ``bfloat16`` (token-budget
            batches on a bfloat16 copy of the weights: 2.5-3.5x faster on the quickstart's data with AMX) or
            ``float32`` (sentence-transformers' ``encode``).
        trim_memory: Return the host memory each training step freed to the system after every step of the
            distill, contrastive, long-context and multi-task stages (not ``mlm``;
            :class:`~st_plus.training.memory.ReleaseMemoryCallback`): the quickstart's peak resident memory is
            1.6-1.9 GB lower (8.7-8.9 -> 7.0-7.1 GB); training ran 0.77x and 0.97x as fast in two pairs (the
            machine's speed drifted, the cost is not settled). Off by default; changes no result, so a run may be
            resumed with it turned on.
        model: The starting model.
        stages: The stages.
        adapter: Train a LoRA adapter in stages 1 and 2 instead of every weight.
        evaluation: The evaluation tasks.
        source: The recipe file (set by :func:`load_recipe`).
    """

    name: str
    stages: StagesSpec
    seed: int = 42
    output_dir: str | None = None
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    mining_precision: Literal["auto", "bfloat16", "float32"] = "auto"
    trim_memory: bool = False
    model: ModelSpec = field(default_factory=ModelSpec)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    adapter: AdapterSpec | None = None
    source: str | None = field(default=None, metadata={"internal": True})

    def mining_dtype(self, bf16: bool) -> MiningDtype:
        """``mining_precision`` resolved for a run that trains in bf16 (``bf16``) or not."""
        if self.mining_precision == "auto":
            return "bfloat16" if bf16 else "float32"
        return self.mining_precision

    def stage_names(self) -> list[str]:
        """The configured stages, in run order."""
        return [f.name for f in dataclasses.fields(self.stages) if getattr(self.stages, f.name) is not None]


def load_recipe(path: str | Path) -> Recipe:
    """Reads and validates a recipe file; relative paths become absolute (resolved against the file's folder).

    Raises:
        RecipeError: Naming file, line and key, before any work starts.
    """
    path = Path(path).resolve()
    data, lines = load_yaml_with_lines(path)
    builder = RecipeBuilder(path, lines)
    recipe = builder.build(Recipe, data, ())
    recipe.source = str(path)
    check_recipe(recipe, builder)
    return recipe


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The resolved recipe (every default filled in) as plain data, for ``recipe.resolved.yaml``."""
    out = dataclasses.asdict(recipe)
    out.pop("source", None)
    if out["stages"].get("merge") is not None:  # the YAML key of `MergeSpec.with_`
        out["stages"]["merge"] = {"with": out["stages"]["merge"].pop("with_"), **out["stages"]["merge"]}
    return out
