"""Augmented positives: EDA, word repetition (ESimCSE), token cutoff and back-translation through an LLM.

:func:`augment_rows` augments rows offline (every column kept, seeded); :class:`AugmentTransform` is the same as a
``datasets`` transform. Chinese texts are split into words with jieba. SimCSE's dropout positives need no
augmentation: a recipe's text-only stage-1 file with ``unsupervised: simcse`` pairs each text with itself.
"""

from st_plus.augment.backtranslate import BackTranslationAugmenter
from st_plus.augment.base import AugmentFailure, TextAugmenter, text_rng
from st_plus.augment.copies import COPY_GROUP_COLUMN, with_augmented_copies
from st_plus.augment.cutoff import CutoffAugmenter
from st_plus.augment.eda import EdaAugmenter, load_synonyms
from st_plus.augment.repeat import WordRepetitionAugmenter
from st_plus.augment.rows import AUGMENTERS, AugmentedRows, AugmentTransform, augment_rows, build_augmenter
from st_plus.augment.unsupervised import UNSUPERVISED_METHODS, unsupervised_pairs
from st_plus.augment.words import join_words, split_words

__all__ = [
    "AUGMENTERS",
    "COPY_GROUP_COLUMN",
    "UNSUPERVISED_METHODS",
    "AugmentFailure",
    "AugmentTransform",
    "AugmentedRows",
    "BackTranslationAugmenter",
    "CutoffAugmenter",
    "EdaAugmenter",
    "TextAugmenter",
    "WordRepetitionAugmenter",
    "augment_rows",
    "build_augmenter",
    "join_words",
    "load_synonyms",
    "split_words",
    "text_rng",
    "unsupervised_pairs",
    "with_augmented_copies",
]
