"""Citations for the model card: the losses' own, recorded when the run trained, plus the techniques st_plus adds.

sentence-transformers collects citations from the loss *objects* of a training run (``set_losses`` on the card
data). The pipeline records each loss's ``citation`` from the objects it trained (``StageRecord.citations`` of
:class:`~st_plus.run_record.RunRecord`), so publishing cites exactly what training used, settings included.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from st_plus.run_record import RunRecord

logger = logging.getLogger(__name__)
_ARXIV_ID = re.compile(r"\b\d{4}\.\d{4,5}\b")

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


def recorded_losses(record: RunRecord) -> list[Any]:
    """Objects for sentence-transformers' ``set_losses``: each loss's class name and the citation recorded for it.

    The citations were taken from the loss objects the run constructed (``StageRecord.citations``), so
    ``set_losses`` adds the ``loss:NAME`` tags and groups the citations exactly as for the training run itself. A
    stage recorded without citations (a record from before st_plus kept them, or written by hand) is listed
    without them, with a warning.
    """
    citations: dict[str, str | None] = {}
    for stage in record.stages:
        if stage.losses and stage.citations is None:
            logger.warning(
                "stage %s of the run record lists losses %s but no citations: the card names them without citing "
                "them (re-run training to record them)", stage.name, ", ".join(stage.losses)
            )  # fmt: skip
        for name in stage.losses:
            citation = (stage.citations or {}).get(name)
            if citations.get(name) is None:
                citations[name] = citation
    return [type(name, (), {"citation": citation})() for name, citation in citations.items()]


def technique_citations(record: RunRecord | None) -> dict[str, str]:
    """Citations for what the run used beyond its losses: CoSENT, GradCache, dynamic negatives, late chunking."""
    if record is None:
        return {}
    citations: dict[str, str] = {}
    for name in (loss for stage in record.stages for loss in stage.losses):
        if name in EXTRA_CITATIONS:
            heading, bibtex = EXTRA_CITATIONS[name]
            citations[heading] = bibtex
    if any(stage.dynamic_negatives for stage in record.stages):
        citations["Dynamic hard negatives (Conan-embedding)"] = CONAN_EMBEDDING
    if record.late_chunking:
        citations["Late chunking"] = LATE_CHUNKING
    # a paper a recorded loss already cites (same arXiv id, e.g. SpanPoolingLoss and late chunking) is cited once
    cited = {i for stage in record.stages for c in (stage.citations or {}).values() if c for i in _ARXIV_ID.findall(c)}
    return {heading: bibtex for heading, bibtex in citations.items() if not cited & set(_ARXIV_ID.findall(bibtex))}
