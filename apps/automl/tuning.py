"""Tuning jobs (AMT): validate and start a job, run its trials on any number of Celery workers that share one
Optuna study, and export the best trial as a Canvas candidate.

How the trials spread: the `automl.tune` job (the coordinator) enqueues `max_parallel - 1` `automl.tune_worker`
jobs and then runs trials itself, so the job finishes even with a single worker slot (helpers that start late
find the study done and exit). Every worker asks the shared study for its next trial, so workers on several
hosts cooperate through the study's storage (the PostgreSQL database, or a journal file on a shared directory).
The coordinator ends the study (completion criteria, max trials, max runtime, cancel), waits for the trials still
running elsewhere, then fits the best parameters on all rows as a candidate build."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import optuna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from apps.accounts.models import Project, User
from apps.automl import engine
from apps.automl.choices import BuildMode
from apps.automl.engine import tuning as amt
from apps.automl.models import AutomlBuild, TuningJob
from apps.automl.services import automl_check, checks_as_errors
from apps.core.artifacts import artifact_store
from apps.core.tempfiles import temp_path
from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.jobs.runtime import JobCancelled, JobContext, JobError
from apps.jobs.services import job_cancel, job_start

MIN_RUNTIME_S, MAX_RUNTIME_S = 10, 7 * 24 * 3600
WAIT_FOR_OTHERS_POLL_S = 0.5
SUMMARY_TRIALS = 500
STOP_LABELS = {
    "max_trials": "the maximum number of trials ran",
    "target_value_reached": "the target objective value was reached",
    "no_improvement": "the best score stopped improving",
    "grid_done": "every grid point was tried",
    "timeout": "the maximum runtime was reached",
    "cancelled": "the job was cancelled",
}


# --- storage ------------------------------------------------------------------------------------------------


def storage_url(study_name: str) -> str:
    """Where the shared study lives (see AUTOML_TUNING_STORAGE in settings)."""
    configured = str(getattr(settings, "AUTOML_TUNING_STORAGE", "") or "")
    if configured:
        return configured
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        auth = quote(str(db.get("USER") or ""), safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(str(db["PASSWORD"]), safe="")
        host = str(db.get("HOST") or "localhost")
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgresql+psycopg://{auth}{'@' if auth else ''}{host}{port}/{quote(str(db['NAME']), safe='')}"
    folder = Path(settings.AUTOML_TUNING_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return f"journal://{folder / (study_name + '.log')}"


def _open(tuning: TuningJob, spec: amt.TuningSpec, worker: str = "w0") -> optuna.Study:
    number = int(worker[1:]) if worker[1:].isdigit() else 0
    return amt.open_study(spec, tuning.study_name, storage_url(tuning.study_name), worker=number)


READERS_KEPT = 16  # storages kept for reading (one per journal file; one for a database)
_readers: OrderedDict[str, optuna.storages.BaseStorage] = OrderedDict()
_readers_lock = threading.Lock()


def _reader(url: str) -> optuna.storages.BaseStorage:
    """A storage for reading `url`, made once per process: opening one costs a new engine, a table check and a schema
    version query (a database) or a replay of the whole log (a journal), which the trials poll of a running job's page
    paid every few seconds. Reading through it stays current: each `load_study` wraps it afresh (its trial cache
    lives with the Study), and a journal catches up with what workers appended since."""
    with _readers_lock:
        storage = _readers.get(url)
        if storage is not None:
            _readers.move_to_end(url)
            return storage
    storage = amt.storage_for(url)
    assert storage is not None
    with _readers_lock:
        storage = _readers.setdefault(url, storage)
        while len(_readers) > READERS_KEPT:
            _readers.popitem(last=False)
    return storage


def load_study(tuning: TuningJob) -> optuna.Study | None:
    """The job's study for reading, or None before the first worker created it."""
    storage = _reader(storage_url(tuning.study_name))
    try:
        return optuna.load_study(study_name=tuning.study_name, storage=storage)
    except KeyError:
        return None


# --- start --------------------------------------------------------------------------------------------------


def default_ranges(*, algorithm: Any, problem_type: Any) -> dict[str, Any]:
    """The ranges a form starts from; ValidationError names a bad algorithm or problem type."""
    if str(algorithm) not in engine.ALGORITHMS:
        raise ValidationError(
            {"algorithm": f"Unknown algorithm {algorithm!r}; choose one of {', '.join(engine.ALGORITHMS)}."}
        )
    if str(problem_type) not in ("binary", "multiclass", "regression"):
        raise ValidationError({"problem_type": "Choose binary, multiclass or regression."})
    return amt.default_ranges(str(algorithm), str(problem_type))


def _int_option(raw: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = raw.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValidationError({key: f"{key} must be a whole number between {low} and {high}."})
    try:
        number = float(value)
    except ValueError:
        raise ValidationError({key: f"{key} must be a whole number between {low} and {high}."}) from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise ValidationError({key: f"{key} must be a whole number between {low} and {high}."})
    return int(number)


def _parents(project: Project, raw: Any, algorithm: str) -> list[TuningJob]:
    if raw in (None, "", []):
        return []
    if not isinstance(raw, list):
        raise ValidationError({"warm_start_from": "Give a list of earlier tuning job ids."})
    parents = []
    for pk in raw:
        try:
            parent = TuningJob.objects.select_related("job").get(pk=int(pk), project=project)
        except (TypeError, ValueError, TuningJob.DoesNotExist):
            raise ValidationError({"warm_start_from": f"No tuning job {pk!r} in this project."}) from None
        if parent.algorithm != algorithm:
            raise ValidationError(
                {
                    "warm_start_from": f"Tuning job #{parent.pk} tuned {parent.algorithm}, not "
                    f"{algorithm}; warm start needs the same algorithm."
                }
            )
        if parent.trials_done == 0:
            raise ValidationError({"warm_start_from": f"Tuning job #{parent.pk} has no finished trial to start from."})
        parents.append(parent)
    return parents


def tuning_start(
    *,
    project: Project,
    created_by: User,
    version: DatasetVersion,
    target: Any,
    spec: Any,
    name: str = "",
    warm_start_from: Any = None,
) -> TuningJob:
    """Check the data and the spec (errors name the field), record the job and start its coordinator."""
    if version.project_id != project.pk:
        raise ValidationError({"dataset_version": "The dataset version belongs to another project."})
    if not isinstance(spec, dict):
        raise ValidationError({"spec": "The tuning spec must be an object (algorithm, ranges, strategy …)."})
    options, checks = automl_check(
        version=version, target=target, problem_type=spec.get("problem_type"), objective=spec.get("objective")
    )
    if engine.has_errors(checks):
        raise ValidationError(checks_as_errors(checks))
    problem_type = options["problem_type"]
    if not problem_type:
        frame = data_selectors.version_frame(version=version, max_rows=50_000)
        problem_type = engine.detect_problem_type(frame[options["target"]].dropna())
    raw = {**spec, "problem_type": problem_type, "objective": options["objective"]}
    try:
        parsed = amt.parse_spec(raw)
    except engine.SpecError as exc:
        raise ValidationError({f"spec.{exc.field}" if exc.field else "spec": exc.message}) from None
    limits = {"max_trials": settings.AUTOML_TUNING_MAX_TRIALS, "max_parallel": settings.AUTOML_TUNING_MAX_PARALLEL}
    for key, high in limits.items():
        if getattr(parsed, key) > high:
            raise ValidationError({f"spec.{key}": f"{key} must be at most {high} here."})
    runtime = _int_option(spec, "max_runtime_s", MIN_RUNTIME_S, MAX_RUNTIME_S)
    parents = _parents(project, warm_start_from, parsed.algorithm)
    clean = {
        **raw,
        "objective": parsed.objective,
        "strategy": parsed.strategy,
        "max_trials": parsed.max_trials,
        "max_parallel": parsed.max_parallel,
        "max_runtime_s": runtime,
        "ranges": {k: r.as_dict() for k, r in parsed.ranges.items()},
    }
    with transaction.atomic():
        tuning = TuningJob.objects.create(
            project=project,
            created_by=created_by,
            name=str(name or "")[:200],
            dataset_version=version,
            target=options["target"],
            algorithm=parsed.algorithm,
            problem_type=parsed.problem_type,
            objective=parsed.objective,
            strategy=parsed.strategy,
            spec=clean,
            study_name=f"atelier-tuning-{uuid.uuid4().hex[:20]}",
        )
        tuning.warm_start_from.set(parents)
        tuning.job = job_start(
            kind="automl.tune",
            project=project,
            created_by=created_by,
            params={"tuning": tuning.pk},
            title=f"Tuning {parsed.algorithm}: {version.dataset.name} → {tuning.target}",
        )
        tuning.save(update_fields=["job", "updated_at"])
    return tuning


# --- run ----------------------------------------------------------------------------------------------------


def _setup(tuning: TuningJob, ctx: JobContext) -> tuple[amt.TuningSpec, Any, amt.Data, amt.Folds]:
    spec = amt.parse_spec(tuning.spec)
    version = tuning.dataset_version
    ctx.progress(0.01, f"Reading {version.row_count:,} rows", force=True)
    frame = data_selectors.version_frame(version=version)
    if tuning.target not in frame.columns:
        raise JobError(f"The target column {tuning.target!r} is no longer in {version}.")
    X = frame.drop(columns=[tuning.target])
    try:
        data = amt.prepare_data(
            X, frame[tuning.target], spec.problem_type, seed=spec.seed, n_jobs=int(settings.AUTOML_N_JOBS)
        )
    except ValueError as exc:
        raise JobError(f"The data cannot be tuned on: {exc}") from exc
    folds = amt.cv_folds(data, {"seed": spec.seed})
    return spec, frame, data, folds


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]


def _record(tuning: TuningJob, study: optuna.Study, stop_reason: str = "") -> dict[str, Any]:
    summary = amt.study_summary(study)
    summary["trials"] = summary["trials"][-SUMMARY_TRIALS:]
    best = summary.get("best") or {}
    done = sum(1 for t in summary["trials"] if t["state"] == "complete")
    fields: dict[str, Any] = {
        "summary": summary,
        "trials_done": done,
        "best_value": best.get("value"),
        "best_params": best.get("params"),
    }
    if stop_reason:
        fields["stop_reason"] = stop_reason
    TuningJob.objects.filter(pk=tuning.pk).update(**fields)
    return summary


def _worker_loop(
    ctx: JobContext,
    tuning: TuningJob,
    study: optuna.Study,
    spec: amt.TuningSpec,
    data: amt.Data,
    folds: amt.Folds,
    worker: str,
    deadline: float | None,
) -> tuple[str, int]:
    """Trials one at a time (progress and cancel checks between them) until the study says stop."""
    ran = 0
    trial_timeout = float(settings.AUTOML_TUNING_TRIAL_TIMEOUT_S)
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return "timeout", ran
        out = amt.run_worker(
            study,
            spec,
            data,
            folds,
            n_trials=1,
            worker=worker,
            timeout_s=None,
            trial_timeout_s=min(trial_timeout, left) if left is not None else trial_timeout,
        )
        ran += out["trials_run"]
        if out["stop_reason"] != "trials":
            return out["stop_reason"], ran
        summary = _record(tuning, study) if worker == "w0" else None
        done = len(_finished(study))
        best = (summary or {}).get("best") or {}
        text = f"{done} of {spec.max_trials} trial(s) finished"
        if best.get("value") is not None:
            text += f" · best {spec.objective} {best['value']:.4f}"
        ctx.progress(0.03 + 0.82 * min(1.0, done / spec.max_trials), text)  # raises JobCancelled


def _helpers(tuning: TuningJob) -> list[Job]:
    return list(Job.objects.filter(kind="automl.tune_worker", params__tuning=tuning.pk, project_id=tuning.project_id))


def _start_helpers(tuning: TuningJob, spec: amt.TuningSpec, ctx: JobContext) -> None:
    have = {str(j.params.get("worker")) for j in _helpers(tuning)}
    for i in range(1, spec.max_parallel):
        worker = f"w{i}"
        if worker not in have:
            job_start(
                kind="automl.tune_worker",
                project=tuning.project,
                created_by=tuning.created_by,
                params={"tuning": tuning.pk, "worker": worker},
                title=f"Tuning job #{tuning.pk}: worker {i + 1} of {spec.max_parallel}",
            )


def _wait_for_others(tuning: TuningJob, study: optuna.Study, ctx: JobContext) -> None:
    """Let trials running in helper jobs finish (their results count), then fail any left by a dead worker."""
    limit = time.monotonic() + float(settings.AUTOML_TUNING_TRIAL_TIMEOUT_S) + 30
    while time.monotonic() < limit:
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        busy = any(j.status == JobStatus.RUNNING for j in _helpers(tuning))
        if not running or not busy:
            break
        ctx.progress(0.86, f"Waiting for {len(running)} trial(s) running on other workers", force=False)
        time.sleep(WAIT_FOR_OTHERS_POLL_S)
    amt.fail_running_trials(study)
    for job in _helpers(tuning):
        if job.status == JobStatus.QUEUED:
            job_cancel(job=job)


def tuning_run(ctx: JobContext) -> dict[str, Any]:
    """The coordinator: warm start, helpers, its own share of the trials, the end of the study, the export."""
    tuning = TuningJob.objects.select_related("dataset_version", "project", "created_by").get(pk=ctx.params["tuning"])
    done = tuning.exported_builds.filter(artifact__isnull=False).first()
    if done is not None:  # a redelivery after success
        return {"tuning": tuning.pk, "candidate": done.pk}
    spec, frame, data, folds = _setup(tuning, ctx)
    study = _open(tuning, spec)
    amt.fail_running_trials(study, worker="w0")  # this coordinator's own, if an earlier attempt was killed
    if not study.trials:
        parents = [s for s in (load_study(p) for p in tuning.warm_start_from.all()) if s is not None]
        if parents:
            n = amt.warm_start(study, spec, parents)
            ctx.log(f"Warm start: {n} earlier best setting(s) queued first.")
    _start_helpers(tuning, spec, ctx)
    runtime = tuning.spec.get("max_runtime_s")
    started = tuning.job.started_at if tuning.job else None
    elapsed = max(0.0, time.time() - started.timestamp()) if started else 0.0
    deadline = time.monotonic() + float(runtime) - elapsed if runtime else None
    try:
        reason, _ = _worker_loop(ctx, tuning, study, spec, data, folds, "w0", deadline)
    except JobCancelled:
        amt.stop_study(study, "cancelled")
        amt.fail_running_trials(study, worker="w0")
        for job in _helpers(tuning):
            job_cancel(job=job)
        _record(tuning, study, "cancelled")
        raise
    amt.stop_study(study, reason)
    _wait_for_others(tuning, study, ctx)
    summary = _record(tuning, study, reason)
    best = summary.get("best")
    if not best:
        errors = sorted({t["error"] for t in summary["trials"] if t.get("error")})
        raise JobError(
            "No trial finished, so there is no best setting to export. "
            + (f"Trial errors: {'; '.join(errors[:3])}" if errors else "Allow more trials or a longer runtime.")
        )
    ctx.progress(0.88, f"Fitting the best setting (trial {best['number']}) on all rows", force=True)
    build = _export(ctx, tuning, spec, frame, best)
    why = STOP_LABELS.get(reason, reason)
    ctx.final_message = (
        f"{summary_count(summary)} trial(s); stopped because {why}. Best {spec.objective} "
        f"{best['value']:.4f} (trial {best['number']}), exported as build #{build.pk}."
    )
    return {"tuning": tuning.pk, "candidate": build.pk, "best": best, "stop_reason": reason}


def summary_count(summary: dict[str, Any]) -> int:
    return sum(1 for t in summary.get("trials", []) if t["state"] in ("complete", "pruned", "fail"))


def _export(ctx: JobContext, tuning: TuningJob, spec: amt.TuningSpec, frame: Any, best: dict[str, Any]) -> AutomlBuild:
    """The best trial as a Canvas candidate: a build of one model, with its analysis, what-if and register."""
    params = {**spec.fixed, **best["params"]}
    name = f"{spec.algorithm}-tuned-{best['number']}"
    config = engine.BuildConfig(
        target=tuning.target,
        problem_type=spec.problem_type,
        objective=spec.objective,
        seed=spec.seed,
        n_jobs=int(settings.AUTOML_N_JOBS),
    )
    try:
        result = engine.fit_candidate(
            frame,
            config,
            spec.algorithm,
            params,
            name=name,
            progress=lambda f, m: ctx.progress(0.88 + 0.1 * f, m),
            extra_report={"tuning_job": tuning.pk, "tuning_best_trial": best["number"]},
        )
    except engine.BuildError as exc:
        raise JobError(str(exc)) from exc
    report = result.report
    with temp_path(".joblib", prefix="tuned-") as tmp:
        engine.save_model(result.model, tmp)
        with transaction.atomic():
            artifact = artifact_store(
                project_id=tuning.project_id,
                kind="automl.model",
                local_path=tmp,
                filename="model.joblib",
                created_by_id=ctx.created_by_id,
                meta={"tuning_job": tuning.pk, "candidate": name},
            )
            return AutomlBuild.objects.create(
                project_id=tuning.project_id,
                created_by_id=ctx.created_by_id,
                dataset_version=tuning.dataset_version,
                name=f"Tuning job #{tuning.pk}: best trial",
                target=tuning.target,
                problem_type=spec.problem_type,
                objective=spec.objective,
                mode=BuildMode.TUNED,
                seed=spec.seed,
                checks=report.get("checks") or [],
                job_id=ctx.job_id,
                trials_done=tuning.trials_done,
                best_score=report.get("best_score"),
                report=report,
                best_candidate=name,
                artifact=artifact,
                tuning_job=tuning,
            )


def tuning_worker_run(ctx: JobContext) -> dict[str, Any]:
    """A helper: joins the shared study and runs trials until the study says stop."""
    tuning = TuningJob.objects.select_related("dataset_version", "job").get(pk=ctx.params["tuning"])
    worker = str(ctx.params.get("worker") or "w1")
    if tuning.job is None or tuning.job.is_final:
        ctx.final_message = "The tuning job had already finished; nothing to do."
        return {"trials_run": 0, "stop_reason": "finished"}
    spec, _, data, folds = _setup(tuning, ctx)
    study = _open(tuning, spec, worker)
    amt.fail_running_trials(study, worker=worker)
    try:
        reason, ran = _worker_loop(ctx, tuning, study, spec, data, folds, worker, None)
    except JobCancelled:
        amt.fail_running_trials(study, worker=worker)
        raise
    ctx.final_message = f"Ran {ran} trial(s) of tuning job #{tuning.pk}; stopped: {STOP_LABELS.get(reason, reason)}."
    return {"trials_run": ran, "stop_reason": reason}


# --- read ---------------------------------------------------------------------------------------------------


def tuning_trials(*, tuning: TuningJob) -> dict[str, Any]:
    """Live trials: read from the shared study while the job runs, from the saved summary after."""
    if tuning.job is not None and tuning.job.status == JobStatus.RUNNING:  # before that, no study to read
        study = load_study(tuning)
        if study is not None:
            summary = amt.study_summary(study)
            summary["trials"] = summary["trials"][-SUMMARY_TRIALS:]
            return summary
    return tuning.summary or {"direction": None, "trials": [], "best": None}
