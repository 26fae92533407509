"""Model loading and merging; NomicBERT-style builders, BERT-to-NomicBERT conversion, layer pruning, recovery, MLM."""

from st_plus.models._loading import DEFAULT_MODEL, default_model_path, load_model, resolve_model_path
from st_plus.models.attention_dropout import attention_dropout, attention_dropout_sites
from st_plus.models.bert_to_nomic import bert_to_nomic_state_dict, constant_reader, convert_bert_to_nomic
from st_plus.models.continued_mlm import ContinuedMlmRun, continue_mlm
from st_plus.models.merging import merge_models
from st_plus.models.nomic_bert import build_nomic_bert, sentence_transformer_from_nomic_bert
from st_plus.models.nomic_bert_config import NOMIC_BERT_PRESETS, nomic_bert_config, pad_vocab_size, rope_parameters
from st_plus.models.nomic_fast_path import disable_nomic_fast_path, enable_nomic_fast_path
from st_plus.models.position_extension import (
    copied_position_table,
    extend_positions,
    position_count,
    readable_positions,
)
from st_plus.models.pretraining import encoder_from_mlm, pretrain_mlm, train_wordpiece_tokenizer
from st_plus.models.pruning import prune_layers
from st_plus.models.recovery import WallClockCallback, read_texts, recover_by_distillation
from st_plus.models.vocabulary import (
    VocabularyExtension,
    add_characters,
    extend_vocabulary,
    is_cjk_character,
    missing_characters,
)

__all__ = [
    "ContinuedMlmRun",
    "VocabularyExtension",
    "DEFAULT_MODEL",
    "NOMIC_BERT_PRESETS",
    "WallClockCallback",
    "add_characters",
    "attention_dropout",
    "attention_dropout_sites",
    "bert_to_nomic_state_dict",
    "build_nomic_bert",
    "constant_reader",
    "continue_mlm",
    "convert_bert_to_nomic",
    "copied_position_table",
    "default_model_path",
    "disable_nomic_fast_path",
    "enable_nomic_fast_path",
    "encoder_from_mlm",
    "extend_positions",
    "extend_vocabulary",
    "is_cjk_character",
    "load_model",
    "missing_characters",
    "merge_models",
    "nomic_bert_config",
    "pad_vocab_size",
    "position_count",
    "readable_positions",
    "pretrain_mlm",
    "prune_layers",
    "read_texts",
    "recover_by_distillation",
    "resolve_model_path",
    "rope_parameters",
    "sentence_transformer_from_nomic_bert",
    "train_wordpiece_tokenizer",
]
