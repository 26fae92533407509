"""Model loading and merging; NomicBERT-style builders, BERT-to-NomicBERT conversion, recovery, MLM pre-training."""

from st_plus.models._loading import DEFAULT_MODEL, default_model_path, load_model, resolve_model_path
from st_plus.models.bert_to_nomic import bert_to_nomic_state_dict, constant_reader, convert_bert_to_nomic
from st_plus.models.merging import merge_models
from st_plus.models.nomic_bert import build_nomic_bert, sentence_transformer_from_nomic_bert
from st_plus.models.nomic_bert_config import NOMIC_BERT_PRESETS, nomic_bert_config, pad_vocab_size, rope_parameters
from st_plus.models.pretraining import encoder_from_mlm, pretrain_mlm, train_wordpiece_tokenizer
from st_plus.models.recovery import WallClockCallback, read_texts, recover_by_distillation

__all__ = [
    "DEFAULT_MODEL",
    "NOMIC_BERT_PRESETS",
    "WallClockCallback",
    "bert_to_nomic_state_dict",
    "build_nomic_bert",
    "constant_reader",
    "convert_bert_to_nomic",
    "default_model_path",
    "encoder_from_mlm",
    "load_model",
    "merge_models",
    "nomic_bert_config",
    "pad_vocab_size",
    "pretrain_mlm",
    "read_texts",
    "recover_by_distillation",
    "resolve_model_path",
    "rope_parameters",
    "sentence_transformer_from_nomic_bert",
    "train_wordpiece_tokenizer",
]
