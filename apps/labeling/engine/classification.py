"""Consolidating classification answers: weighted majority vote and Dawid–Skene EM (single label), and a per-label
yes/no consolidation for multi-label answers. Plain numpy, no Django.

Votes are `(item, worker, label)` triples with hashable item and worker keys and labels from `labels`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Dawid–Skene's defaults: pseudo-counts added to each confusion-matrix row and to the class priors (a Dirichlet
# prior: keeps a worker seen on a handful of items away from probabilities of exactly 0 or 1), and convergence.
DS_SMOOTHING = 0.5
# and a little more on the diagonal: a prior belief that workers do better than chance, which keeps EM away from the
# degenerate fixed point where every worker is taken for a coin (every posterior 1/K) on small jobs.
DS_DIAGONAL_PRIOR = 1.0
DS_PRIOR_SMOOTHING = 1.0
DS_TOL = 1e-6
DS_MAX_ITER = 200


@dataclass
class Vote:
    label: str
    posterior: dict[str, float]
    votes: dict[str, int]
    confidence: float


def weighted_majority(
    answers: Sequence[tuple[Any, str]], labels: Sequence[str], weights: Mapping[Any, float] | None = None
) -> Vote:
    """One item's answers `[(worker, label)]`: each worker's vote counts `weights[worker]` (default 1; a weight <= 0
    is treated as a tiny positive one, so a lone vote still decides). The posterior is each label's share of the
    weight; the winner is the label with most weight (ties: the first in `labels`). Confidence is the winner's share,
    0 when a single worker answered."""
    if not answers:
        raise ValueError("No answers to consolidate.")
    weights = weights or {}
    mass = dict.fromkeys(labels, 0.0)
    counts = dict.fromkeys(labels, 0)
    for worker, label in answers:
        if label not in mass:  # a label no longer in the set: still counted, listed after the others
            mass[label] = 0.0
            counts[label] = 0
        mass[label] += max(float(weights.get(worker, 1.0)), 1e-6)
        counts[label] += 1
    total = sum(mass.values())
    posterior = {label: m / total for label, m in mass.items()}
    winner = max(mass, key=lambda label: (mass[label], -list(mass).index(label)))
    confidence = 0.0 if len(answers) == 1 else posterior[winner]
    return Vote(label=winner, posterior=posterior, votes=counts, confidence=confidence)


@dataclass
class DawidSkeneResult:
    items: list[Any]
    workers: list[Any]
    labels: list[str]
    posterior: np.ndarray  # items × labels
    confusion: np.ndarray  # workers × true label × given label
    priors: np.ndarray  # labels
    iterations: int
    converged: bool
    log_likelihood: float
    votes: dict[Any, dict[str, int]] = field(default_factory=dict)

    def label_of(self, item: Any) -> str:
        row = self.posterior[self.items.index(item)]
        return self.labels[int(np.argmax(row))]

    def posterior_of(self, item: Any) -> dict[str, float]:
        row = self.posterior[self.items.index(item)]
        return {label: float(p) for label, p in zip(self.labels, row, strict=True)}

    def reliability(self) -> dict[Any, float]:
        """Each worker's estimated accuracy: the prior-weighted diagonal of their confusion matrix."""
        diag = np.einsum("wkk->wk", self.confusion)
        return {worker: float(diag[w] @ self.priors) for w, worker in enumerate(self.workers)}


def dawid_skene(
    votes: Iterable[tuple[Any, Any, str]],
    labels: Sequence[str],
    *,
    smoothing: float = DS_SMOOTHING,
    diagonal_prior: float = DS_DIAGONAL_PRIOR,
    prior_smoothing: float = DS_PRIOR_SMOOTHING,
    tol: float = DS_TOL,
    max_iter: int = DS_MAX_ITER,
) -> DawidSkeneResult:
    """Dawid & Skene (1979): every worker has a confusion matrix (the chance they give label l when the truth is k),
    the classes have priors, and EM alternates between the items' posteriors over the true label (E) and the
    workers' matrices and the priors given those posteriors (M). Starts from the (unweighted) majority's vote
    shares; stops when no posterior moves by more than `tol`. The matrices get Dirichlet pseudo-counts:
    `smoothing` everywhere, plus `diagonal_prior` on the diagonal."""
    triples = list(votes)
    labels = list(labels)
    for _, _, label in triples:
        if label not in labels:
            labels.append(label)
    items = list(dict.fromkeys(item for item, _, _ in triples))
    workers = list(dict.fromkeys(worker for _, worker, _ in triples))
    n_items, n_workers, n_labels = len(items), len(workers), len(labels)
    if not triples:
        raise ValueError("No answers to consolidate.")
    item_ix = {item: i for i, item in enumerate(items)}
    worker_ix = {worker: w for w, worker in enumerate(workers)}
    label_ix = {label: k for k, label in enumerate(labels)}
    ii = np.array([item_ix[t[0]] for t in triples])
    ww = np.array([worker_ix[t[1]] for t in triples])
    ll = np.array([label_ix[t[2]] for t in triples])

    counts = np.zeros((n_items, n_labels))
    np.add.at(counts, (ii, ll), 1.0)
    posterior = counts / counts.sum(axis=1, keepdims=True)  # the majority's vote shares
    confusion = np.empty((n_workers, n_labels, n_labels))
    priors = np.full(n_labels, 1.0 / n_labels)
    converged = False
    iterations = 0
    log_likelihood = float("-inf")
    for iterations in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
        # M step: priors and every worker's confusion matrix from the current posteriors.
        priors = (posterior.sum(axis=0) + prior_smoothing) / (n_items + prior_smoothing * n_labels)
        confusion[:] = smoothing + diagonal_prior * np.eye(n_labels)
        # confusion[w, k, l] += posterior[i, k] for each vote (i, w, l)
        np.add.at(confusion, (ww, slice(None), ll), posterior[ii])  # type: ignore[arg-type]
        confusion /= confusion.sum(axis=2, keepdims=True)
        # E step: log posterior of each true label given every vote on the item.
        log_post = np.tile(np.log(priors), (n_items, 1))
        np.add.at(log_post, ii, np.log(confusion[ww, :, ll]))
        top = log_post.max(axis=1, keepdims=True)
        unnorm = np.exp(log_post - top)
        norm = unnorm.sum(axis=1, keepdims=True)
        new = unnorm / norm
        log_likelihood = float((np.log(norm) + top).sum())
        delta = float(np.abs(new - posterior).max())
        posterior = new
        if delta < tol:
            converged = True
            break
    vote_counts = {item: {labels[k]: int(counts[i, k]) for k in range(n_labels)} for item, i in item_ix.items()}
    return DawidSkeneResult(
        items=items,
        workers=workers,
        labels=labels,
        posterior=posterior,
        confusion=confusion,
        priors=priors,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
        votes=vote_counts,
    )


@dataclass
class MultiVote:
    labels: list[str]
    p_yes: dict[str, float]
    confidence: float


def multilabel_vote(
    answers: Sequence[tuple[Any, Sequence[str]]],
    labels: Sequence[str],
    weights: Mapping[Any, float] | None = None,
) -> MultiVote:
    """One item's multi-label answers `[(worker, [label, ...])]`, each label a yes/no question decided by weighted
    majority: p_yes = the weight of the workers who ticked it over all the weight; a label is in when p_yes > 0.5.
    Confidence = the mean over labels of max(p, 1 - p); 0 with a single worker."""
    if not answers:
        raise ValueError("No answers to consolidate.")
    weights = weights or {}
    every = list(labels) + [x for _, chosen in answers for x in chosen if x not in labels]
    every = list(dict.fromkeys(every))
    total = 0.0
    yes = dict.fromkeys(every, 0.0)
    for worker, chosen in answers:
        weight = max(float(weights.get(worker, 1.0)), 1e-6)
        total += weight
        for label in set(chosen):
            yes[label] += weight
    p_yes = {label: yes[label] / total for label in every}
    chosen_labels = [label for label in every if p_yes[label] > 0.5]
    confidence = 0.0 if len(answers) == 1 or not every else float(np.mean([max(p, 1 - p) for p in p_yes.values()]))
    return MultiVote(labels=chosen_labels, p_yes=p_yes, confidence=confidence)


def multilabel_dawid_skene(
    answers: Iterable[tuple[Any, Any, Sequence[str]]], labels: Sequence[str], **options: float
) -> dict[Any, dict[str, float]]:
    """Multi-label answers `(item, worker, [label, ...])` of a whole job: one binary Dawid–Skene per label (did the
    worker tick it or not). Returns {item: {label: p_yes}}."""
    rows = list(answers)
    result: dict[Any, dict[str, float]] = {item: {} for item, _, _ in rows}
    for label in labels:
        ds = dawid_skene(
            ((item, worker, "yes" if label in chosen else "no") for item, worker, chosen in rows),
            ["yes", "no"],
            **options,  # type: ignore[arg-type]
        )
        for i, item in enumerate(ds.items):
            result[item][label] = float(ds.posterior[i, 0])
    return result
