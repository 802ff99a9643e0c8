"""Model mitigations started from a Clarify report (called by the app's mitigation job, inside a worker):

* ``fair_build_start``: a new Canvas build on the same dataset version and target whose model is Fairlearn's
  ExponentiatedGradient under a demographic-parity or equalized-odds constraint on the facet (its own job);
* ``threshold_candidate_fit``: per-group thresholds (Fairlearn's ThresholdOptimizer) over a fitted candidate, stored
  as a new candidate of the same build (synchronous: it runs inside the caller's job).

Both report the constrained metric and the accuracy before and after (the build's or candidate's report,
``fairness.comparison``). Bad input raises ValidationError keyed ``facet``, ``constraint`` or ``candidate``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from apps.accounts.models import User
from apps.automl.models import AutomlBuild
from apps.automl.services import automl_build_start, automl_threshold_candidate_fit
from apps.clarify.engine.fairmodels import CONSTRAINTS, EXPONENTIATED_GRADIENT

KEYS = {"fairness.sensitive": "facet", "sensitive": "facet", "fairness.constraint": "constraint"}


def _renamed(exc: ValidationError) -> ValidationError:
    """The Canvas errors under Clarify's names (the sensitive column is the report's facet)."""
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError({KEYS.get(k, k): v for k, v in exc.message_dict.items()})


def _check_constraint(constraint: Any) -> str:
    value = str(constraint or "").strip()
    if value not in CONSTRAINTS:
        raise ValidationError({"constraint": f"Unknown constraint {value!r}; choose {' or '.join(CONSTRAINTS)}."})
    return value


def fair_build_start(*, build: AutomlBuild, facet: str, constraint: str, created_by: User) -> AutomlBuild:
    """A new build (its own `automl.build` job) on ``build``'s dataset version and target, mode, seed and objective,
    with the fairness option: ExponentiatedGradient under ``constraint`` on the facet column."""
    constraint = _check_constraint(constraint)
    facet = str(facet or "").strip()
    try:
        return automl_build_start(
            project=build.project,
            created_by=created_by,
            version=build.dataset_version,
            target=build.target,
            problem_type=build.problem_type or None,
            objective=build.objective or None,
            mode=build.mode,
            time_budget_s=build.time_budget_s,
            seed=build.seed,
            name=f"{build} with {constraint.replace('_', ' ')} on {facet}"[:200],
            fairness={"mitigator": EXPONENTIATED_GRADIENT, "constraint": constraint, "sensitive": facet},
        )
    except ValidationError as exc:
        raise _renamed(exc) from exc


def threshold_candidate_fit(
    *,
    build: AutomlBuild,
    candidate: str,
    facet: str,
    constraint: str,
    created_by: User | None,
    progress: Callable[[float, str], None] | None = None,
) -> str:
    """Fit per-group thresholds over ``candidate``'s model (the facet must be one of its inputs) and store them as a
    new candidate of ``build``; returns its name."""
    constraint = _check_constraint(constraint)
    try:
        row = automl_threshold_candidate_fit(
            build=build,
            candidate=candidate,
            sensitive=facet,
            constraint=constraint,
            created_by=created_by,
            progress=progress,
        )
    except ValidationError as exc:
        raise _renamed(exc) from exc
    return row.name
