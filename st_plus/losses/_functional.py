"""Pure tensor maths of st_plus's losses (no model, no ST): each function is tested against a naive loop."""

from __future__ import annotations

import torch
from torch import Tensor


def _cross_group_terms(scores: Tensor, labels: Tensor) -> Tensor:
    """The cross-group comparisons, one log-sum-exp per lower-ranked candidate.

    For each candidate ``j`` of the flattened batch: ``log sum exp(s_j - s_i)`` over all candidates ``i`` with
    ``r_i > r_j`` (``-inf`` where there is none). Sorting by label and a suffix ``logcumsumexp`` avoid the
    quadratic matrix, as sentence-transformers' ``CoSENTLoss`` does.
    """
    labels, order = labels.reshape(-1).sort()
    scores = scores.reshape(-1)[order]
    higher_start = torch.searchsorted(labels, labels, right=True)
    suffix = torch.logcumsumexp(-scores.flip(0), dim=0).flip(0)
    suffix = torch.cat((suffix, scores.new_full((1,), -torch.inf)))
    return scores + suffix[higher_start]


def _within_group_terms(scores: Tensor, labels: Tensor) -> Tensor:
    """``s_{b,j} - s_{b,i}`` for every pair inside a group with ``r_{b,i} > r_{b,j}``; ``-inf`` elsewhere."""
    # (batch, i, j): candidate j ranked below candidate i of the same group
    below = labels.unsqueeze(2) > labels.unsqueeze(1)
    differences = scores.unsqueeze(1) - scores.unsqueeze(2)
    return differences.masked_fill(~below, -torch.inf).reshape(-1)


def consent_loss(
    scores: Tensor,
    labels: Tensor,
    *,
    cross_group: bool,
    negative_scores: Tensor | None = None,
    negative_mask: Tensor | None = None,
) -> Tensor:
    """The Consent (CoSENT ranking) loss of scaled scores against graded labels.

    ``L = log(1 + sum exp(s_{b',j} - s_{b,i}))`` over every comparable pair with ``r_{b,i} > r_{b',j}``:
    inside each group (row) ``b = b'``, or across the whole batch when ``cross_group``. With
    ``negative_scores``, each extra score ``n_{b,m}`` (an in-batch negative scored against group ``b``'s query)
    ranks below all of group ``b``'s candidates and is compared with its highest-labelled ones:
    terms ``exp(n_{b,m} - s_{b,i})`` for every ``i`` with ``r_{b,i} = max_k r_{b,k}``.

    Args:
        scores: ``(batch, k)`` scaled similarities ``scale * sim(q_b, d_{b,k})``.
        labels: ``(batch, k)`` relevance labels, higher = more relevant.
        cross_group: Compare candidates of different groups too (for scored pairs: CoSENT).
        negative_scores: ``(batch, m)`` scaled similarities of each query with its in-batch negatives.
        negative_mask: ``(batch, m)`` bool, ``True`` where ``negative_scores`` is a real negative.

    Returns:
        A scalar, computed in float32 or higher (low-precision inputs are upcast).
    """
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(
            f"`scores` and `labels` must both be (batch, k), got {tuple(scores.shape)} and {tuple(labels.shape)}."
        )
    if scores.dtype in (torch.float16, torch.bfloat16):
        scores = scores.float()
    labels = labels.to(scores.dtype if labels.is_floating_point() else torch.float32)
    terms = [scores.new_zeros(1)]  # the "1 +" inside the log
    terms.append(_cross_group_terms(scores, labels) if cross_group else _within_group_terms(scores, labels))
    if negative_scores is not None:
        if negative_scores.dtype in (torch.float16, torch.bfloat16):
            negative_scores = negative_scores.float()
        if negative_mask is not None:
            negative_scores = negative_scores.masked_fill(~negative_mask, -torch.inf)
        # log sum_m exp(n_{b,m}) per group, then minus each top candidate's score
        negatives = torch.logsumexp(negative_scores, dim=1, keepdim=True)
        top = labels == labels.max(dim=1, keepdim=True).values
        terms.append((negatives - scores).masked_fill(~top, -torch.inf).reshape(-1))
    return torch.logsumexp(torch.cat(terms), dim=0)


def info_nce_loss(
    scores: Tensor,
    positive_index: Tensor,
    *,
    candidate_mask: Tensor | None = None,
    decoupled: bool = False,
) -> Tensor:
    """Mean InfoNCE (cross-entropy over candidates) of scaled scores, optionally decoupled.

    ``L_b = -s_{b,p} + log sum_{c in C_b} exp(s_{b,c})`` with ``p = positive_index[b]`` and ``C_b`` the
    candidates allowed by ``candidate_mask`` (all by default). ``decoupled`` removes the positive from the
    denominator (Decoupled Contrastive Learning, Yeh et al. 2022).

    Args:
        scores: ``(batch, n)`` scaled similarities of each query with every candidate.
        positive_index: ``(batch,)`` column of each query's positive.
        candidate_mask: ``(batch, n)`` bool, ``True`` where a candidate takes part.
        decoupled: Leave the positive out of the denominator.

    Returns:
        A scalar: the mean over queries that have at least one candidate (a decoupled row without negatives,
        e.g. a batch of one pair, has none and is left out; 0 when no row has one).
    """
    if scores.dtype in (torch.float16, torch.bfloat16):
        scores = scores.float()
    rows = torch.arange(scores.size(0), device=scores.device)
    positives = scores[rows, positive_index]
    keep = torch.ones_like(scores, dtype=torch.bool) if candidate_mask is None else candidate_mask.clone()
    keep[rows, positive_index] = not decoupled
    log_z = torch.logsumexp(scores.masked_fill(~keep, -torch.inf), dim=1)
    valid = keep.any(dim=1)  # a row without any candidate (decoupled, no negative) has no loss term
    if not bool(valid.all()):
        if not bool(valid.any()):
            return scores.sum() * 0.0  # keeps the graph; nothing to learn from this batch
        return (log_z[valid] - positives[valid]).mean()
    return (log_z - positives).mean()
