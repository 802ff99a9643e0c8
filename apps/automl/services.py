"""Canvas writes: check the data, start and run a build (a Job), select a candidate, predict, batch-predict,
register a model package. The ML is the plain engine in apps/automl/engine; this module persists around it."""

from __future__ import annotations

import importlib.metadata
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from apps.accounts.models import Project, User
from apps.automl import charts, engine, selectors
from apps.automl.choices import MAX_BUDGET_S, MIN_BUDGET_S, BuildMode, ProblemType
from apps.automl.engine import fair as fair_engine
from apps.automl.models import AutomlBuild, AutomlCandidateModel
from apps.automl.progress import LiveBuild, snapshot_message
from apps.clarify.engine import explain
from apps.core.artifacts import artifact_local_copy, artifact_store
from apps.core.models import Artifact
from apps.core.tempfiles import temp_path
from apps.datasets import selectors as data_selectors
from apps.datasets import services as data_services
from apps.datasets.choices import VersionKind
from apps.datasets.models import DatasetVersion
from apps.jobs.models import Job
from apps.jobs.runtime import JobCancelled, JobContext, JobError, JobInterrupted
from apps.jobs.services import job_start
from apps.registry.models import ModelVersion
from apps.registry.services import version_from_canvas

log = logging.getLogger(__name__)

CHECK_SAMPLE_ROWS = 50_000
HISTORY_WRITE_INTERVAL_S = 0.5
LIVE_WRITE_INTERVAL_S = 0.5  # how often a running build's progress, message and counters are written
LIVE_LOW, LIVE_HIGH = 0.02, 0.95  # the job's progress while the engine runs (reading before, saving after)
MAX_PREDICT_ROWS = 1000
LIBRARIES = ("scikit-learn", "lightgbm", "pandas", "numpy", "scipy", "joblib", "optuna", "fairlearn")


# --- checks ---------------------------------------------------------------------------------------------------


def _profile_leaky_columns(*, version: DatasetVersion, target: str) -> list[str]:
    """Columns the version's latest Data Wrangler quality report (for this target) flagged as leakage."""
    report = data_selectors.report_latest(version=version, target=target)
    if report is None:
        return []
    try:
        data = data_selectors.report_data(report=report)
    except (OSError, ValueError):
        return []
    leakage = data.get("leakage") or {}
    return [str(f["column"]) for f in leakage.get("features", []) if f.get("flag")]


def _clean_options(
    *, version: DatasetVersion, target: Any, problem_type: Any, objective: Any, mode: Any, time_budget_s: Any
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    target = str(target or "").strip()
    if not target:
        errors["target"] = "Choose the target column (the column to predict)."
    elif target not in version.column_names:
        errors["target"] = (
            f"The target column {target!r} is not in {version}; its columns are: "
            + ", ".join(version.column_names[:30])
            + "."
        )
    problem_type = str(problem_type or "").strip() or None
    if problem_type and problem_type not in ProblemType.values:
        errors["problem_type"] = f"Unknown problem type {problem_type!r}; choose binary, multiclass or regression."
    objective = str(objective or "").strip() or None
    if objective and "problem_type" not in errors:
        known = {m["name"] for items in engine.metric_catalogue().values() for m in items}
        if problem_type:
            try:
                objective = engine.resolve_objective(problem_type, objective).name
            except ValueError as exc:
                errors["objective"] = str(exc)
        elif objective not in known:
            errors["objective"] = f"Unknown objective {objective!r}; choose one of {', '.join(sorted(known))}."
    mode = str(mode or BuildMode.QUICK)
    if mode not in (BuildMode.QUICK, BuildMode.STANDARD):
        errors["mode"] = f"Unknown mode {mode!r}; choose quick or standard."
    budget: float | None = None
    if time_budget_s not in (None, ""):
        try:
            budget = float(time_budget_s)
        except (TypeError, ValueError):
            errors["time_budget_s"] = "The time budget must be a number of seconds."
        else:
            if not MIN_BUDGET_S <= budget <= MAX_BUDGET_S:
                errors["time_budget_s"] = f"The time budget must be between {MIN_BUDGET_S} and {MAX_BUDGET_S} s."
    if errors:
        raise ValidationError(errors)
    return {
        "target": target,
        "problem_type": problem_type,
        "objective": objective,
        "mode": mode,
        "time_budget_s": budget,
    }


def automl_check(
    *,
    version: DatasetVersion,
    target: Any,
    problem_type: Any = None,
    objective: Any = None,
    mode: Any = None,
    time_budget_s: Any = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate the options and run the engine's checklist on (a sample of) the version.
    Returns (clean options, checks); options that make no sense raise ValidationError naming the field."""
    options = _clean_options(
        version=version,
        target=target,
        problem_type=problem_type,
        objective=objective,
        mode=mode,
        time_budget_s=time_budget_s,
    )
    frame = data_selectors.version_frame(version=version, max_rows=CHECK_SAMPLE_ROWS, as_written=True)
    leaky = _profile_leaky_columns(version=version, target=options["target"])
    checks = engine.check_data(frame, options["target"], problem_type=options["problem_type"], leaky_columns=leaky)
    if options["objective"] and not options["problem_type"] and not engine.has_errors(checks):
        detected = engine.detect_problem_type(frame[options["target"]].dropna())
        try:
            options["objective"] = engine.resolve_objective(detected, options["objective"]).name
        except ValueError as exc:
            raise ValidationError({"objective": str(exc)}) from exc
    return options, checks


def checks_as_errors(checks: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Blocking checks keyed by the column at fault (or `dataset_version`), for a 400."""
    errors: dict[str, list[str]] = {}
    for c in checks:
        if c["severity"] == "error":
            errors.setdefault(c.get("column") or "dataset_version", []).append(c["message"])
    return errors


# --- build ---------------------------------------------------------------------------------------------------


def automl_build_start(
    *,
    project: Project,
    created_by: User,
    version: DatasetVersion,
    target: Any,
    problem_type: Any = None,
    objective: Any = None,
    mode: Any = None,
    time_budget_s: Any = None,
    seed: Any = 0,
    name: str = "",
    fairness: Any = None,
) -> AutomlBuild:
    """Check the data (errors block the build), record the build and start its job. ``fairness`` (optional):
    ``{"mitigator": "exponentiated_gradient", "constraint": "demographic_parity"|"equalized_odds", "sensitive":
    <column>, "base": "lightgbm"|"linear"}`` makes the build's model a Fairlearn-mitigated one (binary targets)."""
    if version.project_id != project.pk:
        raise ValidationError({"dataset_version": "The dataset version belongs to another project."})
    try:
        seed_value = int(seed or 0)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"seed": "The seed must be a whole number."}) from exc
    options, checks = automl_check(
        version=version,
        target=target,
        problem_type=problem_type,
        objective=objective,
        mode=mode,
        time_budget_s=time_budget_s,
    )
    if engine.has_errors(checks):
        raise ValidationError(checks_as_errors(checks))
    fair = _clean_fairness(version=version, options=options, fairness=fairness) if fairness is not None else None
    with transaction.atomic():
        build = AutomlBuild.objects.create(
            project=project,
            created_by=created_by,
            dataset_version=version,
            name=name[:200],
            target=options["target"],
            problem_type=options["problem_type"] or "",
            objective=options["objective"] or "",
            mode=options["mode"],
            time_budget_s=options["time_budget_s"],
            seed=seed_value,
            checks=checks,
            fairness=fair,
        )
        job = job_start(
            kind="automl.build",
            project=project,
            created_by=created_by,
            params={"build": build.pk},
            title=f"AutoML build: {version.dataset.name} → {build.target}",
        )
        build.job = job
        build.save(update_fields=["job", "updated_at"])
    return build


def _clean_fairness(*, version: DatasetVersion, options: dict[str, Any], fairness: Any) -> dict[str, Any]:
    """The fairness option checked against the version (a sample of it): errors keyed ``fairness.<key>``, or
    ``target`` for a target that is not binary."""
    target = options["target"]
    try:
        fair = engine.clean_fairness(fairness, list(version.column_names), target)
    except engine.FairnessError as exc:
        key = "fairness" if exc.field == "fairness" else f"fairness.{exc.field}"
        raise ValidationError({key: exc.message}) from exc
    frame = data_selectors.version_frame(version=version, max_rows=CHECK_SAMPLE_ROWS, as_written=True)
    problem_type = options["problem_type"] or engine.detect_problem_type(frame[target].dropna())
    if problem_type != ProblemType.BINARY:
        raise ValidationError(
            {
                "target": f"A fairness-constrained build needs a binary target; {target!r} is a {problem_type} "
                "target. Choose a two-class target, or build without the fairness option."
            }
        )
    try:
        fair_engine.check_groups(fair_engine.group_labels(frame[fair["sensitive"]]), fair["sensitive"])
    except engine.FairnessError as exc:
        raise ValidationError({"fairness.sensitive": exc.message}) from exc
    return fair


def _library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


@contextmanager
def _saved_model(model: engine.AtelierModel) -> Iterator[str]:
    """The model saved to a temp file (removed afterwards), to be stored as a signed artifact."""
    with temp_path(".joblib", prefix="automl-") as tmp:
        engine.save_model(model, tmp)
        yield tmp


def automl_build_run(ctx: JobContext) -> dict[str, Any]:
    build = AutomlBuild.objects.select_related("dataset_version").get(pk=ctx.params["build"])
    if build.artifact_id and build.report:  # a redelivery after success: nothing to do
        return {"build": build.pk, "best": build.best_candidate}
    version = build.dataset_version
    ctx.progress(0.01, f"Reading {version.row_count:,} rows", force=True)
    frame = data_selectors.version_frame(version=version, as_written=True)
    leaky = _profile_leaky_columns(version=version, target=build.target)
    live = LiveBuild(
        budget_s=float(build.time_budget_s or engine.MODES[build.mode]["budget_s"]),
        objective=_live_objective(build, frame),
    )
    if not build.objective:  # the default the engine will use: the live message and chart name it
        AutomlBuild.objects.filter(pk=build.pk).update(objective=live.objective)

    def write(at: float | None = None) -> None:
        """One snapshot to the build's counters and the job's progress and message, in one transaction (the job
        row locked first, so that its heartbeat cannot publish the message before the counters)."""
        snap = live.snapshot()
        fraction = LIVE_LOW + (LIVE_HIGH - LIVE_LOW) * snap.fraction if at is None else at
        with transaction.atomic():
            list(Job.objects.select_for_update().filter(pk=ctx.job_id).values_list("pk", flat=True))
            AutomlBuild.objects.filter(pk=build.pk).update(
                trials_done=snap.trials, best_score=snap.best, history=snap.history
            )
            ctx.progress(fraction, snap.message, force=True)

    ticker = _LiveWriter(write) if not transaction.get_connection().in_atomic_block else None
    last_write = [0.0]

    def progress(fraction: float, message: str, best: float | None, trials: int) -> None:
        live.report(message, best, trials)
        if ticker is None and time.monotonic() - last_write[0] >= HISTORY_WRITE_INTERVAL_S:
            last_write[0] = time.monotonic()
            write()  # no thread can see this job's rows (a test's transaction): write from here
        ctx.check_cancelled()

    def cancelled() -> bool:
        try:
            ctx.check_cancelled()
        except (JobCancelled, JobInterrupted):
            return True
        return False

    config = engine.BuildConfig(
        target=build.target,
        problem_type=build.problem_type or None,
        objective=build.objective or None,
        mode=build.mode,
        time_budget_s=build.time_budget_s,
        seed=build.seed,
        leaky_columns=leaky,
        n_jobs=int(getattr(settings, "AUTOML_N_JOBS", 2)),
    )
    live.clock = time.monotonic()
    if ticker is not None:
        ticker.start()

    def fair_progress(fraction: float, message: str) -> None:
        progress(fraction, message, None, 0)

    try:
        if build.fairness:
            result = engine.fit_fair(frame, config, dict(build.fairness), progress=fair_progress)
        else:
            result = engine.build(frame, config, progress=progress, cancel=cancelled)
    except engine.BuildCancelled as exc:
        ctx.check_cancelled()  # JobInterrupted when it stopped because the worker is shutting down
        raise JobCancelled() from exc
    except engine.BuildError as exc:
        raise JobError(str(exc)) from exc
    except engine.FairnessError as exc:
        raise JobError(exc.message) from exc
    except (ValueError, RuntimeError) as exc:
        raise JobError(f"The build failed: {exc}") from exc
    finally:
        if ticker is not None:
            ticker.stop()
    report = result.report
    best = report.get("best") or ""
    # The series and the counters end on the final model's score (the blend or the best candidate, refitted).
    live.objective = report["objective"]
    live.finish(report.get("best_score"), report["trials"]["total"], "Saving the model")
    write(at=0.96)
    snap = live.snapshot()
    with _saved_model(result.model) as tmp, transaction.atomic():
        artifact = artifact_store(
            project_id=build.project_id,
            kind="automl.model",
            local_path=tmp,
            filename="model.joblib",
            created_by_id=ctx.created_by_id,
            meta={"build": build.pk, "candidate": best},
        )
        AutomlBuild.objects.filter(pk=build.pk).update(
            report=report,
            best_candidate=best,
            artifact=artifact,
            problem_type=report["problem_type"],
            objective=report["objective"],
            trials_done=snap.trials,
            best_score=snap.best,
            history=snap.history,
        )
    n = len(report.get("leaderboard") or [])
    ctx.final_message = snapshot_message(f"Done: {n} candidate(s), best {best}", snap.trials, snap.best, live.objective)
    return {"build": build.pk, "best": best, "best_score": report.get("best_score"), "candidates": n}


class _LiveWriter:
    """Writes a running build's snapshot every LIVE_WRITE_INTERVAL_S from a thread, so progress follows the clock
    while a long trial runs (the engine reports only between steps)."""

    def __init__(self, write: Callable[[], None]) -> None:
        self._write = write
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="automl-live", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(LIVE_WRITE_INTERVAL_S):
                try:
                    self._write()
                except (JobCancelled, JobInterrupted):
                    continue  # the main thread sees it at its next cancel check
                except Exception:  # a transient DB error must not end the live updates
                    log.warning("automl live progress write failed", exc_info=True)
                    close_old_connections()
        finally:
            connection.close()


def _live_objective(build: AutomlBuild, frame: Any) -> str:
    """The objective's name while the build runs (the engine resolves the default the same way)."""
    try:
        problem_type = build.problem_type or engine.detect_problem_type(frame[build.target].dropna())
        return engine.resolve_objective(problem_type, build.objective or None).name
    except (KeyError, ValueError):
        return build.objective or "score"


# --- candidates ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateSelection:
    """What selecting a candidate did: selected it at once (`job` is None) or started the job that refits it on
    all rows (it becomes the selected candidate when that job succeeds)."""

    build: AutomlBuild
    candidate: str
    job: Job | None = None


def candidate_is_selectable(*, build: AutomlBuild, entry: dict[str, Any]) -> bool:
    """Any leaderboard entry but a blend that is not the best: a blend is fitted only as the build's own model."""
    return entry.get("algorithm") != "ensemble" or entry.get("name") == build.best_candidate


def candidates_with_models(build: AutomlBuild) -> set[str]:
    """Candidates with a fitted model stored: the best (the build's own artifact) and those refitted on request."""
    names = {build.best_candidate} if build.artifact_id and build.best_candidate else set()
    if build.pk:
        names |= set(
            AutomlCandidateModel.objects.filter(build=build, artifact__isnull=False).values_list("name", flat=True)
        )
    return names


def automl_candidate_select(*, build: AutomlBuild, candidate: Any, created_by: User | None) -> CandidateSelection:
    """Select a leaderboard candidate for predictions and registration. The best and any candidate already refitted
    are selected at once; another one is first refitted on all rows by an `automl.fit_candidate` job (one per
    candidate at a time: selecting it again while it runs returns that job)."""
    name = str(candidate or "").strip()
    if not build.report or not build.artifact_id:
        raise ValidationError({"candidate": "The build has not finished; there is no leaderboard to select from yet."})
    if not name:
        raise ValidationError({"candidate": "Choose a candidate from the leaderboard."})
    entry = selectors.candidate_entry(build=build, name=name)
    if entry is None:
        raise ValidationError(
            {
                "candidate": f"No candidate {name!r} in this build's leaderboard; its candidates are: "
                + ", ".join(str(e.get("name")) for e in build.leaderboard[:20])
                + "."
            }
        )
    if not candidate_is_selectable(build=build, entry=entry):
        raise ValidationError(
            {
                "candidate": f"Candidate {name!r} is a blend of other candidates and not the best; only "
                "the best blend is fitted. Select one of its members instead."
            }
        )
    with transaction.atomic():
        locked = AutomlBuild.objects.select_for_update().get(pk=build.pk)  # one selection of this build at a time
        row = AutomlCandidateModel.objects.select_related("job").filter(build=locked, name=name).first()
        if name == locked.best_candidate or (row is not None and row.artifact_id):
            AutomlBuild.objects.filter(pk=build.pk).update(selected_candidate=name, updated_at=timezone.now())
            build.selected_candidate = name
            return CandidateSelection(build=build, candidate=name)
        if row is not None and row.job is not None and not row.job.is_final:
            return CandidateSelection(build=build, candidate=name, job=row.job)
        job = job_start(
            kind="automl.fit_candidate",
            project=build.project,
            created_by=created_by,
            params={"build": build.pk, "candidate": name},
            title=f"Fit candidate {name} of {build}"[:200],
        )
        if row is None:
            AutomlCandidateModel.objects.create(
                project=build.project, created_by=created_by, build=locked, name=name, job=job
            )
        else:  # a previous fit failed or was cancelled: this job tries again
            row.job = job
            row.save(update_fields=["job", "updated_at"])
    return CandidateSelection(build=build, candidate=name, job=job)


def automl_candidate_fit_run(ctx: JobContext) -> dict[str, Any]:
    """Refit one leaderboard candidate on all rows with the build's features and folds, store its signed model and
    its own report, and make it the build's selected candidate."""
    build = AutomlBuild.objects.select_related("dataset_version").get(pk=ctx.params["build"])
    name = str(ctx.params["candidate"])
    row = AutomlCandidateModel.objects.filter(build=build, name=name).first()
    if row is not None and row.artifact_id and row.report:  # a redelivery after success: nothing to do
        return {"build": build.pk, "candidate": name}
    report = build.report or {}
    entry = selectors.candidate_entry(build=build, name=name)
    if entry is None or not candidate_is_selectable(build=build, entry=entry):
        raise JobError(f"Candidate {name!r} is not a candidate of {build} that can be fitted.")
    version = build.dataset_version
    ctx.progress(0.02, f"Reading {version.row_count:,} rows", force=True)
    frame = data_selectors.version_frame(version=version, as_written=True)
    config = engine.BuildConfig(
        target=build.target,
        problem_type=report.get("problem_type") or build.problem_type or None,
        objective=report.get("objective") or build.objective or None,
        mode=build.mode,
        time_budget_s=build.time_budget_s,
        seed=build.seed,
        leaky_columns=_profile_leaky_columns(version=version, target=build.target),
        n_jobs=int(getattr(settings, "AUTOML_N_JOBS", 2)),
        validation=(report.get("validation") or {}).get("method"),  # the build's folds
    )

    def progress(fraction: float, message: str) -> None:
        ctx.progress(0.05 + 0.9 * fraction, f"{name}: {message}")

    try:
        result = engine.fit_candidate(
            frame, config, str(entry["algorithm"]), dict(entry.get("params") or {}), name=name, progress=progress
        )
    except engine.BuildError as exc:
        raise JobError(str(exc)) from exc
    except (ValueError, RuntimeError) as exc:
        raise JobError(f"Fitting {name} failed: {exc}") from exc
    ctx.progress(0.96, "Saving the model", force=True)
    with _saved_model(result.model) as tmp, transaction.atomic():
        row, _ = AutomlCandidateModel.objects.select_for_update().get_or_create(
            build=build,
            name=name,
            defaults={"project_id": build.project_id, "created_by_id": ctx.created_by_id, "job_id": ctx.job_id},
        )
        if not row.artifact_id:
            row.artifact = artifact_store(
                project_id=build.project_id,
                kind="automl.model",
                local_path=tmp,
                filename="model.joblib",
                created_by_id=ctx.created_by_id,
                meta={"build": build.pk, "candidate": name},
            )
            row.report = result.report
            row.save(update_fields=["artifact", "report", "updated_at"])
            AutomlBuild.objects.filter(pk=build.pk).update(selected_candidate=name, updated_at=timezone.now())
    score = result.report.get("best_score")
    ctx.final_message = f"{name} refitted on all rows ({result.report['objective']} {score}); it is now selected."
    return {"build": build.pk, "candidate": name, "score": score}


THRESHOLD_SHORT = {"demographic_parity": "dp", "equalized_odds": "eo"}


def threshold_candidate_name(*, candidate: str, sensitive: str, constraint: str) -> str:
    """`<candidate>-thresholds-<dp|eo>-<sensitive>`, at most 100 characters (a candidate's name)."""
    return f"{candidate}-thresholds-{THRESHOLD_SHORT.get(constraint, constraint)}-{sensitive}"[:100]


def automl_threshold_candidate_fit(
    *,
    build: AutomlBuild,
    candidate: Any,
    sensitive: Any,
    constraint: Any,
    created_by: User | None,
    progress: Callable[[float, str], None] | None = None,
) -> AutomlCandidateModel:
    """Per-group thresholds (Fairlearn ThresholdOptimizer) over a fitted candidate's model, chosen on the build's
    dataset version, stored as a new candidate of the build (its own signed model and report, a leaderboard entry,
    selectable and registrable like any other). Synchronous: call it from a worker job. Bad input raises
    ValidationError keyed `candidate`, `sensitive` or `constraint`; the same request twice returns the stored one."""
    name_in = str(candidate or "").strip() or build.chosen_candidate
    sensitive = str(sensitive or "").strip()
    constraint = str(constraint or "").strip()
    if constraint not in fair_engine.CONSTRAINTS:
        raise ValidationError(
            {"constraint": f"Unknown constraint {constraint!r}; choose {' or '.join(fair_engine.CONSTRAINTS)}."}
        )
    if not sensitive:
        raise ValidationError({"sensitive": "Choose the sensitive column (the groups that get their own threshold)."})
    base, _ = _model_artifact(build, name_in)  # ValidationError: unfinished build, or no fitted model for it
    name = threshold_candidate_name(candidate=base, sensitive=sensitive, constraint=constraint)
    done = AutomlCandidateModel.objects.filter(build=build, name=name, artifact__isnull=False).first()
    if done is not None:
        return done
    model = load_build_model(build=build, candidate=base)
    if model.problem_type != ProblemType.BINARY:
        raise ValidationError(
            {"candidate": f"Per-group thresholds need a binary classifier; {base} is {model.problem_type}."}
        )
    if sensitive not in model.feature_names:
        raise ValidationError(
            {
                "sensitive": f"The sensitive column {sensitive!r} is not an input of {base}, and per-group thresholds "
                "read it at every prediction. The model reads: " + ", ".join(model.feature_names[:30]) + "."
            }
        )
    say = progress or (lambda fraction, message: None)
    version = build.dataset_version
    say(0.05, f"Reading {version.row_count:,} rows")
    frame = data_selectors.version_frame(version=version, as_written=True)
    try:
        result = engine.threshold_model(
            model, frame, sensitive=sensitive, constraint=constraint, name=name, base_name=base, progress=say
        )
    except engine.FairnessError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    say(0.9, "Saving the model")
    with _saved_model(result.model) as tmp, transaction.atomic():
        locked = AutomlBuild.objects.select_for_update().get(pk=build.pk)
        row, _ = AutomlCandidateModel.objects.select_for_update().get_or_create(
            build=locked,
            name=name,
            defaults={"project_id": build.project_id, "created_by": created_by},
        )
        if not row.artifact_id:
            row.artifact = artifact_store(
                project_id=build.project_id,
                kind="automl.model",
                local_path=tmp,
                filename="model.joblib",
                created_by_id=created_by.pk if created_by else None,
                meta={"build": build.pk, "candidate": name, "base": base},
            )
            row.report = result.report
            row.save(update_fields=["artifact", "report", "updated_at"])
            report = dict(locked.report or {})
            board = [e for e in report.get("leaderboard") or [] if e.get("name") != name]
            entry = dict(result.report["leaderboard"][0], rank=len(board) + 1, best=False)
            report["leaderboard"] = [*board, entry]
            AutomlBuild.objects.filter(pk=build.pk).update(report=report, updated_at=timezone.now())
            build.report = report
    return row


def _model_artifact(build: AutomlBuild, candidate: str | None = None) -> tuple[str, Artifact]:
    name = candidate or build.chosen_candidate
    if not build.artifact_id or build.artifact is None:
        raise ValidationError({"build": "This build has no fitted model (it has not succeeded)."})
    if name == build.best_candidate:
        return name, build.artifact
    row = (
        AutomlCandidateModel.objects.select_related("artifact")
        .filter(build=build, name=name, artifact__isnull=False)
        .first()
    )
    if row is None or row.artifact is None:
        raise ValidationError(
            {
                "candidate": f"Candidate {name!r} has no fitted model in this build; select it first "
                "to refit it on all rows."
            }
        )
    return name, row.artifact


def load_build_model(*, build: AutomlBuild, candidate: str | None = None) -> engine.AtelierModel:
    """The selected (or named) candidate's fitted model, loaded only from a verified copy of its signed artifact
    (ArtifactTampered otherwise)."""
    _, artifact = _model_artifact(build, candidate)
    with artifact_local_copy(artifact) as path:
        return engine.load_model(path)


# --- predictions ---------------------------------------------------------------------------------------------


def schema_validation_error(exc: engine.SchemaError, *, summary: str) -> ValidationError:
    """Rows that do not fit a model, for the API: the whole message once (under `summary`, which the API answers as
    its `detail`), then each column at fault with its own short reason ({"a": ["missing"], "b": ["missing"]})."""
    errors: dict[str, list[str]] = {summary: [exc.message]}
    errors.update({c: [reason] for c, reason in exc.errors.items() if c != summary})
    return ValidationError(errors)


def automl_predict(*, build: AutomlBuild, rows: Any) -> dict[str, Any]:
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ValidationError({"rows": "Send rows as a non-empty list of {column: value} objects."})
    if len(rows) > MAX_PREDICT_ROWS:
        raise ValidationError({"rows": f"At most {MAX_PREDICT_ROWS} rows per request; use a batch prediction."})
    model = load_build_model(build=build)
    try:
        return engine.predict(model, rows)
    except engine.SchemaError as exc:
        raise schema_validation_error(exc, summary="non_field_errors") from exc


# "Why this prediction" on the what-if card: it runs in the web process, so it is bounded. Tree members are exact
# and fast (path-dependent TreeSHAP needs no background data); any other member is explained by Kernel SHAP against
# the model's typical row (one background row) with at most WHY_NSAMPLES coalitions (all of them, exact, up to
# log2(WHY_NSAMPLES) features).
WHY_TOP = 8
WHY_NSAMPLES = 256


def automl_explain_row(*, build: AutomlBuild, rows: Any) -> dict[str, Any]:
    """The row's SHAP contributions to the prediction the what-if shows (classification: the probability of the
    predicted class; regression: the value), the top WHY_TOP of them, the rest summed, and a waterfall figure."""
    if not isinstance(rows, list) or len(rows) != 1 or not isinstance(rows[0], dict):
        raise ValidationError({"rows": "Send exactly one row: a list with one {column: value} object."})
    model = load_build_model(build=build)
    try:
        X = engine.check_rows(model, pd.DataFrame.from_records(rows))
    except engine.SchemaError as exc:
        raise schema_validation_error(exc, summary="non_field_errors") from exc
    target = None
    if model.problem_type != ProblemType.REGRESSION:
        target = engine.predict(model, X)["predictions"][0]
    try:
        out = explain.explain_row(model, X, target_class=target, top=WHY_TOP, nsamples=WHY_NSAMPLES)
    except explain.ExplainError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    out["figure"] = charts.why_waterfall(out)
    return out


def automl_batch_predict_start(*, build: AutomlBuild, created_by: User, version: DatasetVersion) -> Any:
    if version.project_id != build.project_id:
        raise ValidationError({"dataset_version": "The dataset version belongs to another project."})
    chosen, _ = _model_artifact(build)
    _, report = selectors.candidate_report(build=build, name=chosen)
    columns = set(version.column_names)
    features = [f["name"] for f in (report.get("schema") or {}).get("features", [])]
    missing = [c for c in features if c not in columns]
    if missing:
        error = engine.SchemaError(
            f"Missing column(s) in {version}: {', '.join(missing)}. The model needs: {', '.join(features)}.",
            errors={c: "missing" for c in missing},
        )
        raise schema_validation_error(error, summary="dataset_version")
    return job_start(
        kind="automl.batch_predict",
        project=build.project,
        created_by=created_by,
        params={"build": build.pk, "dataset_version": version.pk, "candidate": chosen},
        title=f"Batch prediction: {build} ({chosen}) on {version}",
    )


def automl_batch_predict_run(ctx: JobContext) -> dict[str, Any]:
    build = AutomlBuild.objects.select_related("artifact").get(pk=ctx.params["build"])
    version = DatasetVersion.objects.select_related("dataset").get(
        pk=ctx.params["dataset_version"], project_id=build.project_id
    )
    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        return {"dataset_version": done.pk}
    candidate = ctx.params.get("candidate") or build.chosen_candidate  # the one selected when it was started
    ctx.progress(0.05, f"Loading the model ({candidate})", force=True)
    try:
        model = load_build_model(build=build, candidate=candidate)
    except ValidationError as exc:
        raise JobError(" ".join(exc.messages)) from exc
    ctx.progress(0.15, f"Reading {version.row_count:,} rows", force=True)
    frame = data_selectors.version_frame(version=version, as_written=True)
    ctx.progress(0.3, "Predicting")
    try:
        out = engine.predict(model, frame, allow_extra=True)
    except engine.SchemaError as exc:
        raise JobError(exc.message) from exc
    result = frame.copy()
    column = f"predicted_{build.target}"
    result[column] = out["predictions"]
    for cls in model.classes if out.get("probabilities") else []:
        result[f"probability_{cls}"] = [p[str(cls)] for p in out["probabilities"]]
    new = data_services.dataset_version_create_from_frame(
        ctx,
        frame=result,
        kind=VersionKind.PREDICTION,
        dataset_name=f"{version.dataset.name} predictions",
        source={"kind": "automl_prediction", "build": build.pk, "dataset_version": version.pk, "candidate": candidate},
        parents=[version],
    )
    ctx.final_message = f"{len(result):,} predictions saved as {new}."
    return {"dataset_version": new.pk, "dataset": new.dataset_id, "rows": len(result)}


# --- register ------------------------------------------------------------------------------------------------


def default_group_name(build: AutomlBuild) -> str:
    """`<dataset>-<target>` made into a valid model group name."""
    raw = f"{build.dataset_version.dataset.name}-{build.target}"
    return re.sub(r"[^A-Za-z0-9]+", "-", raw).strip("-")[:63].strip("-") or "model"


def automl_register(*, build: AutomlBuild, created_by: User, candidate: Any = None, name: Any = None) -> ModelVersion:
    """The selected (or named) candidate as the next version of a Model Registry group, pending approval: its
    signed artifact (verified before it is recorded), the metrics, parameters and schema of that candidate's own
    fit, the training data version, the build (or tuning job) and the library versions."""
    chosen, artifact = _model_artifact(build, str(candidate).strip() if candidate else None)
    load_build_model(build=build, candidate=chosen)  # refuses a tampered artifact (ArtifactTampered)
    _, report = selectors.candidate_report(build=build, name=chosen)
    entry = (
        next((e for e in report.get("leaderboard") or [] if e.get("name") == chosen), None)
        or selectors.candidate_entry(build=build, name=chosen)
        or {}
    )
    group_name = str(name or "").strip() or default_group_name(build)
    return version_from_canvas(
        project=build.project,
        created_by=created_by,
        group_name=group_name,
        artifact=artifact,
        report=report,
        entry=entry,
        candidate=chosen,
        target=build.target,
        library_versions=_library_versions(),
        dataset_version=build.dataset_version,
        automl_build=build,
        tuning_job=build.tuning_job,
    )
