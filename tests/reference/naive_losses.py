"""Slow, obvious reference implementations of st_plus's losses (double loops in float64)."""

from __future__ import annotations

import math


def consent(scores, labels, *, cross_group, negatives=None):
    """log(1 + sum exp(s_{b',j} - s_{b,i})) over comparable pairs with r_{b,i} > r_{b',j}.

    scores, labels: lists of lists (per group). negatives: per group, the in-batch negative scores, each
    compared with every top-labelled candidate of the group.
    """
    total = 1.0
    groups = range(len(scores))
    for b in groups:
        for i in range(len(scores[b])):
            for b2 in groups:
                if b2 != b and not cross_group:
                    continue
                for j in range(len(scores[b2])):
                    if labels[b][i] > labels[b2][j]:
                        total += math.exp(scores[b2][j] - scores[b][i])
        if negatives is not None:
            top = max(labels[b])
            for i in range(len(scores[b])):
                if labels[b][i] == top:
                    for n in negatives[b]:
                        total += math.exp(n - scores[b][i])
    return math.log(total)


def info_nce(scores, positive_index, *, allowed=None, decoupled=False):
    """mean_b [ -s_{b,p} + log sum_{c allowed, c != p if decoupled} exp(s_{b,c}) ]."""
    losses = []
    for b, row in enumerate(scores):
        p = positive_index[b]
        denominator = 0.0
        for c, value in enumerate(row):
            if allowed is not None and not allowed[b][c] and c != p:
                continue  # the positive is always a candidate (unless decoupled)
            if decoupled and c == p:
                continue
            denominator += math.exp(value)
        losses.append(-row[p] + math.log(denominator))
    return sum(losses) / len(losses)


def cosine(u, v):
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))
