"""Citations for the model card: a loss's own ``citation`` found by class name, plus the techniques st_plus adds.

sentence-transformers collects citations from the loss *objects* of a training run (``set_losses`` on the card
data). A published folder has only the loss *names* (``st_plus_run.json``), so :func:`loss_stand_ins` builds,
for each name, an instance of the real class whose constructor never ran, with the constructor's default
arguments as attributes: the class's own ``citation`` property then gives the same text as during training (with
default settings), and sentence-transformers' ``set_losses`` groups them as usual.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from torch import nn

logger = logging.getLogger(__name__)

COSENT_BLOG = """
@online{su2022cosent,
    title={CoSENT: A more efficient sentence vector scheme than Sentence-BERT},
    author={Su, Jianlin},
    year={2022},
    url={https://kexue.fm/archives/8847},
}
"""
GRADCACHE = """
@inproceedings{gao2021scaling,
    title={Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
    author={Gao, Luyu and Zhang, Yunyi and Han, Jiawei and Callan, Jamie},
    booktitle={Proceedings of the 6th Workshop on Representation Learning for NLP},
    year={2021},
    url={https://arxiv.org/abs/2101.06983},
}
"""
CONAN_EMBEDDING = """
@misc{li2024conanembedding,
    title={Conan-embedding: General Text Embedding with More and Better Negative Samples},
    author={Li, Shiyu and Tang, Yang and Chen, Shizhe and Chen, Xi},
    year={2024},
    eprint={2408.15710},
    archivePrefix={arXiv},
    url={https://arxiv.org/abs/2408.15710},
}
"""
LATE_CHUNKING = """
@misc{gunther2024late,
    title={Late Chunking: Contextual Chunk Embeddings Using Long-Context Embedding Models},
    author={G{\\"u}nther, Michael and Mohr, Isabelle and Williams, Daniel James and Wang, Bo and Xiao, Han},
    year={2024},
    eprint={2409.04701},
    archivePrefix={arXiv},
    url={https://arxiv.org/abs/2409.04701},
}
"""

# Names that are not loss classes (or that need a second reference) -> (card heading, bibtex).
EXTRA_CITATIONS: dict[str, tuple[str, str]] = {
    "GradCache": ("GradCache", GRADCACHE),
    "ConsentLoss": ("CoSENT", COSENT_BLOG),
    "CachedConsentLoss": ("CoSENT", COSENT_BLOG),
    "CoSENTLoss": ("CoSENT", COSENT_BLOG),
}


def _loss_class(name: str) -> type | None:
    import sentence_transformers.sentence_transformer.losses as st_losses

    import st_plus.losses as st_plus_losses

    for module in (st_plus_losses, st_losses):
        cls = getattr(module, name, None)
        if isinstance(cls, type):
            return cls
    return None


def _stand_in(cls: type) -> Any:
    """An instance of ``cls`` without running ``__init__``, holding the constructor's defaults as attributes."""
    obj = cls.__new__(cls)
    if isinstance(obj, nn.Module):
        nn.Module.__init__(obj)
    for base in reversed(cls.__mro__):  # a subclass's defaults win over its parents'
        if "__init__" not in vars(base) or base in (object, nn.Module):
            continue
        for parameter in inspect.signature(vars(base)["__init__"]).parameters.values():
            if parameter.default is not inspect.Parameter.empty:
                obj.__dict__[parameter.name] = parameter.default
    return obj


def loss_citation(name: str) -> str | None:
    """The bibtex a loss class reports as ``citation`` (with default settings), or ``None``."""
    cls = _loss_class(name)
    if cls is None:
        return None
    try:
        citation = _stand_in(cls).citation
    except Exception:  # noqa: BLE001 - a citation that needs a constructed loss is simply left out
        logger.warning("no citation for loss %s: it needs constructor arguments; the card lists it without one", name)
        return None
    return citation if isinstance(citation, str) and citation.strip() else None


def loss_stand_ins(names: list[str]) -> list[Any]:
    """Objects for sentence-transformers' ``set_losses``: real loss classes where known, else name-only ones.

    Each has the loss's class name and its ``citation`` (when one is known), so ``set_losses`` adds the
    ``loss:NAME`` tags and groups the citations exactly as for a training run.
    """
    stand_ins = []
    for name in dict.fromkeys(names):
        cls = _loss_class(name)
        if cls is not None:
            try:
                stand_ins.append(_stand_in(cls))
                continue
            except Exception as exc:  # noqa: BLE001
                logger.warning("loss %s cannot be described with default settings (%s): its card tag has no citation",
                               name, exc)  # fmt: skip
        else:
            logger.warning("unknown loss class %s: the card lists its name without a citation", name)
        stand_ins.append(type(name, (), {"citation": None})())
    return stand_ins


def technique_citations(run_info: dict[str, Any] | None) -> dict[str, str]:
    """Citations for what the run used beyond its losses: CoSENT, GradCache, dynamic negatives, late chunking."""
    run_info = run_info or {}
    citations: dict[str, str] = {}
    stages = run_info.get("stages") or []
    for name in (loss for stage in stages for loss in stage.get("losses") or []):
        if name in EXTRA_CITATIONS:
            heading, bibtex = EXTRA_CITATIONS[name]
            citations[heading] = bibtex
    if any(stage.get("dynamic_negatives") for stage in stages):
        citations["Dynamic hard negatives (Conan-embedding)"] = CONAN_EMBEDDING
    if run_info.get("late_chunking"):
        citations["Late chunking"] = LATE_CHUNKING
    return citations
