"""Studio pages of Ground Truth (data scientists, MLOps engineers, admins): the project's labeling jobs, the new-job
form, a job's page (live progress, quality charts, agreement, automated-labeling rounds, actions, exports, the
items), and the review page (reviewers accept or adjust consolidated labels beside the raw answers).

Reading is for every studio persona (USE_STUDIO); creating, the actions and reviewing need MANAGE_LABELING (data
scientists and admins). The views call the services of the other parts (services.jobs, consolidation, review,
export, autolabel) and answer every POST with a redirect (Post/Redirect/Get); a refused POST shows the form again
with the error next to its field (400)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import TruncHour
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, path, reverse
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import StudioMixin
from apps.accounts.requests import request_project, request_user, required_project, validation_messages
from apps.accounts.selectors import work_team_list_for_user
from apps.core.uploads import CappedUploadMixin, refusal_message
from apps.datasets import selectors as data_selectors
from apps.labeling import charts, selectors
from apps.labeling.choices import (
    ExportFormat,
    JobStatus,
    LabelSource,
    ReviewStatus,
    SourceKind,
    TaskStatus,
    TaskType,
)
from apps.labeling.forms import (
    AUTO_LABELED,
    LABELED,
    MULTI_LABEL,
    RATED,
    SINGLE_LABEL,
    SOURCES,
    TEXT_TASKS,
    LabelingJobForm,
    parse_answer,
)
from apps.labeling.models import LabelingItem, LabelingJob
from apps.registry import selectors as registry_selectors

ITEMS_PER_PAGE = 50
REVIEW_PER_PAGE = 20
CHOICES_SHOWN = 200  # versions, earlier jobs and models offered by the form
# Export formats that fit each task type (the exports service refuses the others in words).
EXPORTS: dict[str, tuple[str, ...]] = {
    TaskType.NAMED_ENTITY.value: ("manifest", "csv", "conll"),
    TaskType.BOUNDING_BOX.value: ("manifest", "csv", "coco"),
    TaskType.PAIRWISE_PREFERENCE.value: ("manifest", "csv", "preference"),
    TaskType.RANKING.value: ("manifest", "csv", "preference"),
}
DEFAULT_EXPORTS = ("manifest", "csv")
DATASET_EXPORT = (
    TaskType.TEXT_CLASSIFICATION.value,
    TaskType.TEXT_CLASSIFICATION_MULTI.value,
    TaskType.TABULAR_CLASSIFICATION.value,
)
# The badge colour of each job status (atelier.css has the Job statuses' colours).
STATUS_BADGE: dict[str, str] = {
    JobStatus.PREPARING: "queued",
    JobStatus.ACTIVE: "running",
    JobStatus.PAUSED: "cancelled",
    JobStatus.COMPLETED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}
ACTIONS = ("pause", "resume", "cancel", "consolidate", "export", "autolabel")


def _url(name: str, *args: Any) -> str:
    """A route of another part, or "" while that part is not there (the page leaves its button out)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _can_manage(request: HttpRequest) -> bool:
    return personas.user_can(request.user, personas.MANAGE_LABELING)


# --- how an answer or a consolidated label reads on a page ---------------------------------------------------------


def answer_text(task_type: str, answer: Any) -> str:
    """A short text for an answer or a consolidated label (answer-shaped, LABELING.md)."""
    if not isinstance(answer, dict):
        return ""
    if "label" in answer:
        return str(answer["label"])
    if "labels" in answer:
        return ", ".join(str(v) for v in answer["labels"]) or "(none)"
    if "preferred" in answer:
        reason = str(answer.get("reason") or "")
        return f"response {int(answer['preferred']) + 1}" + (f": {reason}" if reason else "")
    if "ranking" in answer:
        return " > ".join(str(int(i) + 1) for i in answer["ranking"])
    if "ratings" in answer:
        parts = []
        for name, value in (answer["ratings"] or {}).items():
            if isinstance(value, dict):
                mean = value.get("mean")
                parts.append(f"{name} {mean:.2f}" if isinstance(mean, int | float) else f"{name} –")
            else:
                parts.append(f"{name} {value}")
        return ", ".join(parts)
    if "spans" in answer:
        return ", ".join(f"{s.get('label')} [{s.get('start')}:{s.get('end')}]" for s in answer["spans"]) or "(none)"
    if "boxes" in answer:
        n = len(answer["boxes"])
        return f"{n} box{'es' if n != 1 else ''}"
    if "texts" in answer:
        n = len(answer["texts"])
        return f"{n} rewrite{'s' if n != 1 else ''}"
    if "text" in answer:
        return str(answer["text"])
    return ""


def item_view(item: LabelingItem) -> dict[str, Any]:
    """What a table row or a review card shows of an item's data (text, a row, a prompt and its responses, an
    image's name)."""
    data = item.data if isinstance(item.data, dict) else {}
    out: dict[str, Any] = {"text": "", "row": None, "prompt": "", "responses": [], "image": "", "label": None}
    if "text" in data:
        out["text"] = str(data["text"])
    if isinstance(data.get("row"), dict):
        out["row"] = [(str(k), v) for k, v in data["row"].items()]
    if "prompt" in data:
        out["prompt"] = str(data["prompt"])
        out["responses"] = [
            {"text": str(r.get("text", "")), "model": str(r.get("model", ""))}
            if isinstance(r, dict)
            else {"text": str(r), "model": ""}
            for r in data.get("responses") or []
        ]
    if "image" in data:
        out["image"] = str(data.get("name") or data["image"])
        out["image_url"] = _url("api:labeling-item-image", item.pk)
    if "label" in data:
        out["label"] = data["label"]
    return out


# --- the list ----------------------------------------------------------------------------------------------------


class JobListView(StudioMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        jobs = []
        if project is not None:
            qs = selectors.job_list_for_user(user=request_user(request)).filter(project=project)
            qs = qs.select_related("prepare_job").annotate(
                answers=Count("tasks", filter=Q(tasks__status=TaskStatus.ANSWERED), distinct=True),
                pending_review=Count("items", filter=Q(items__review_status=ReviewStatus.PENDING), distinct=True),
            )
            jobs = list(qs)
            for job in jobs:
                job.badge = STATUS_BADGE.get(job.status, "")  # type: ignore[attr-defined]
                job.percent = round(100 * job.labeled_count / job.item_count) if job.item_count else 0  # type: ignore[attr-defined]
        context = {"project": project, "jobs": jobs, "can_manage": _can_manage(request)}
        return render(request, "labeling/studio_list.html", context)


# --- the new-job form ---------------------------------------------------------------------------------------------


def _form_choices(request: HttpRequest, project: Any) -> dict[str, Any]:
    user = request_user(request)
    versions = list(
        data_selectors.version_list_for_user(user=user)
        .filter(project=project)
        .select_related("dataset")
        .order_by("dataset__name", "-number")[:CHOICES_SHOWN]
    )
    teams = list(work_team_list_for_user(user=user).filter(project=project).order_by("name"))
    jobs = list(
        selectors.job_list_for_user(user=user)
        .filter(project=project, labeled_count__gt=0)
        .exclude(task_type__in=[t.value for t in TaskType if t.value not in SINGLE_LABEL])[:CHOICES_SHOWN]
    )
    models = list(
        registry_selectors.version_list_for_user(user=user)
        .filter(project=project)
        .order_by("-created_at")[:CHOICES_SHOWN]
    )
    return {"versions": versions, "teams": teams, "jobs": jobs, "models": models}


def _form(request: HttpRequest, choices: dict[str, Any], data: Any = None, files: Any = None) -> LabelingJobForm:
    columns = sorted({str(c["name"]) for v in choices["versions"] for c in v.schema or []})
    return LabelingJobForm(
        data,
        files,
        initial={"source_kind": SourceKind.DATASET, "task_type": TaskType.TEXT_CLASSIFICATION},
        versions=[(v.pk, f"{v.dataset.name} v{v.number} ({v.row_count:,} rows)") for v in choices["versions"]],
        teams=[(t.pk, f"{t.name} ({t.get_kind_display().split(' ')[0].lower()})") for t in choices["teams"]],
        jobs=[(j.pk, f"{j.name} ({j.labeled_count:,} labeled)") for j in choices["jobs"]],
        models=[(m.pk, f"{m.group.name} v{m.version}") for m in choices["models"]],
        columns=columns,
    )


class JobCreateView(CappedUploadMixin, StudioMixin, View):
    capabilities = {"get": personas.MANAGE_LABELING, "post": personas.MANAGE_LABELING}

    def _render(
        self, request: HttpRequest, form: LabelingJobForm, choices: dict[str, Any], status: int = 200
    ) -> HttpResponse:
        context = {
            "project": request_project(request),
            "form": form,
            "choices": choices,
            # for labeling_studio.js: which fields each task type and source shows, and each version's columns
            "form_rules": {
                "sources": SOURCES,
                "labeled": list(LABELED),
                "rated": list(RATED),
                "auto": list(AUTO_LABELED),
                "multi": list(MULTI_LABEL),
                "text": [t.value for t in TEXT_TASKS],
                "tabular": [TaskType.TABULAR_CLASSIFICATION.value],
                "columns": {str(v.pk): [str(c["name"]) for c in v.schema or []] for v in choices["versions"]},
                "preview_url": reverse("labeling:preview"),
            },
        }
        return render(request, "labeling/studio_create.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        project = request_project(request)
        empty: dict[str, Any] = {"versions": [], "teams": [], "jobs": [], "models": []}
        choices = _form_choices(request, project) if project else empty
        return self._render(request, _form(request, choices), choices)

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        choices = _form_choices(request, project)
        refused = self.upload_refused(request)
        form = _form(request, choices, request.POST, request.FILES)
        if refused is not None:
            form.is_valid()
            form.add_error("upload", refusal_message(refused))
            return self._render(request, form, choices, status=413)
        if not form.is_valid():
            return self._render(request, form, choices, status=400)
        d = form.cleaned_data
        user = request_user(request)
        try:
            # Each choice read for the user: another project's object is a 404, as everywhere.
            version = (
                data_selectors.version_get_for_user(user=user, pk=d["dataset_version"])
                if d.get("dataset_version")
                else None
            )
            team = work_team_list_for_user(user=user).filter(project=project, pk=d["team"]).first()
            if team is None:
                raise ValidationError({"team": "Choose a work team of this project."})
            source_job = selectors.job_get_for_user(user=user, pk=d["source_job"]) if d.get("source_job") else None
            model = (
                registry_selectors.version_get_for_user(user=user, pk=d["pre_annotation_model"])
                if d.get("pre_annotation_model")
                else None
            )
            from apps.labeling.services.jobs import labeling_job_create

            job = labeling_job_create(
                project=project,
                created_by=user,
                **form.service_kwargs(version=version, team=team, source_job=source_job, model=model),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            return self._render(request, form, choices, status=400)
        messages.success(request, f"Labeling job “{job.name}” created: its items are being prepared.")
        return HttpResponseRedirect(reverse("labeling:detail", args=[job.pk]))


class InstructionsPreviewView(StudioMixin, View):
    """The instructions as workers will see them (sanitised HTML), for the form's preview (fetched by its script)."""

    capabilities = {"post": personas.MANAGE_LABELING}

    def post(self, request: HttpRequest) -> HttpResponse:
        from apps.labeling.markdown import render_instructions

        text = str(request.POST.get("instructions") or "")[:100_000]
        return HttpResponse(render_instructions(text), content_type="text/html; charset=utf-8")


# --- a job ----------------------------------------------------------------------------------------------------


def _progress(job: LabelingJob) -> dict[str, Any]:
    """Live counts from the items and tasks (the stats' `progress` shape)."""
    agg = job.items.aggregate(
        items=Count("id"),
        labeled=Count("id", filter=~Q(label_source=LabelSource.NONE)),
        auto=Count("id", filter=Q(label_source=LabelSource.AUTO)),
        reviewed=Count("id", filter=Q(label_source=LabelSource.REVIEWED)),
        pending_review=Count("id", filter=Q(review_status=ReviewStatus.PENDING)),
    )
    agg["answers"] = job.tasks.filter(status=TaskStatus.ANSWERED).count()
    total = agg["items"] or job.item_count or 0
    agg["percent"] = round(100 * agg["labeled"] / total) if total else 0
    agg["expected_answers"] = (total - agg["auto"]) * (job.workers_per_item or 0)
    return agg


def _answers_per_hour(job: LabelingJob) -> list[tuple[str, int]]:
    rows = (
        job.tasks.filter(status=TaskStatus.ANSWERED, answered_at__isnull=False)
        .annotate(hour=TruncHour("answered_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by("hour")
    )
    return [(r["hour"].isoformat(), r["n"]) for r in rows[:2000]]


def _running(job: Any) -> Any:
    return job if job is not None and not job.is_final else None


def _exports(job: LabelingJob) -> list[dict[str, Any]]:
    formats = EXPORTS.get(job.task_type, DEFAULT_EXPORTS)
    out = []
    base = _url("api:labeling-job-export", job.pk)
    for fmt in formats:
        out.append({"format": fmt, "label": ExportFormat(fmt).label, "url": f"{base}?format={fmt}" if base else ""})
    return out


class JobDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = selectors.job_get_for_user(user=request_user(request), pk=pk)
        job = LabelingJob.objects.select_related(
            "project",
            "team",
            "dataset_version__dataset",
            "source_job",
            "pre_annotation_model__group",
            "created_by",
            "prepare_job",
            "consolidate_job",
        ).get(pk=job.pk)
        stats = job.stats or {}
        source = request.GET.get("source", "")
        items = job.items.order_by("position")
        if source in LabelSource.values:
            items = items.filter(label_source=source)
        page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
        confidences = list(job.items.filter(confidence__isnull=False).values_list("confidence", flat=True)[:100_000])
        rows = [
            {
                "item": item,
                "view": item_view(item),
                "label": answer_text(job.task_type, item.consolidated),
            }
            for item in page.object_list
        ]
        auto_rounds = list(job.auto_rounds.select_related("job").order_by("number"))
        exports = list(job.exports.select_related("job", "dataset_version__dataset").order_by("-created_at")[:20])
        running = _running(job.consolidate_job)
        for r in auto_rounds:
            running = running or _running(r.job)
        for e in exports:
            running = running or _running(e.job)
        job.badge = STATUS_BADGE.get(job.status, "")  # type: ignore[attr-defined]
        context = {
            "job": job,
            "stats": stats,
            "agreement": stats.get("agreement") or {},
            "workers": stats.get("workers") or [],
            "progress": _progress(job),
            "prepare": job.prepare_job if job.status == JobStatus.PREPARING or _running(job.prepare_job) else None,
            "running": running,
            "figures": charts.job_figures(stats, confidences=confidences, answers=_answers_per_hour(job)),
            "page": page,
            "rows": rows,
            "source": source,
            "sources": LabelSource.choices,
            "auto_rounds": auto_rounds,
            "exports": exports,
            "export_links": _exports(job),
            "can_dataset_export": job.task_type in DATASET_EXPORT,
            "can_autolabel": job.task_type in AUTO_LABELED,
            "download_url": {e.pk: _url("api:labeling-export-download", e.pk) for e in exports},
            "stats_url": _url("api:labeling-job-stats", job.pk),
            "can_manage": _can_manage(request),
            "open": job.status in (JobStatus.ACTIVE, JobStatus.PAUSED),
            "charts": True,
        }
        return render(request, "labeling/studio_detail.html", context)


class JobActionView(StudioMixin, View):
    """pause, resume, cancel, consolidate now, export (a format, or "dataset": a new dataset version), auto-label."""

    capabilities = {"post": personas.MANAGE_LABELING}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = request_user(request)
        job = selectors.job_get_for_user(user=user, pk=pk)
        action = str(request.POST.get("action") or "")
        target = reverse("labeling:detail", args=[job.pk])
        try:
            if action in ("pause", "resume", "cancel"):
                from apps.labeling.services.jobs import labeling_job_update

                status = {"pause": JobStatus.PAUSED, "resume": JobStatus.ACTIVE, "cancel": JobStatus.CANCELLED}[action]
                labeling_job_update(job=job, status=status)
                messages.success(request, f"“{job.name}”: {JobStatus(status).label.lower()}.")
            elif action == "consolidate":
                from apps.labeling.services.consolidation import consolidation_start

                consolidation_start(job=job, user=user)
                messages.success(request, "Consolidation started: the labels and quality figures are recomputed.")
            elif action == "export":
                from apps.labeling.services.export import export_start

                fmt = str(request.POST.get("format") or "")
                if fmt not in ExportFormat.values:
                    raise ValidationError({"format": "Choose an export format."})
                export_start(job=job, fmt=fmt, user=user)
                messages.success(request, f"Export started: {ExportFormat(fmt).label}.")
                target += "#exports"
            elif action == "autolabel":
                from apps.labeling.services.autolabel import autolabel_start

                autolabel_start(job=job, user=user)
                messages.success(request, "Automated labeling started: a model is trained on the human labels.")
                target += "#auto-labeling"
            else:
                raise ValidationError({"action": "Choose an action: " + ", ".join(ACTIONS) + "."})
        except ValidationError as exc:
            for message in validation_messages(exc, bare=("__all__", "action", "status", "format", "job")):
                messages.error(request, message)
        return HttpResponseRedirect(target)


# --- review -------------------------------------------------------------------------------------------------------


def _answers_by_item(items: list[LabelingItem]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {item.pk: [] for item in items}
    if not items:
        return out
    job = items[0].job
    tasks = (
        job.tasks.filter(item__in=items, status=TaskStatus.ANSWERED)
        .select_related("worker")
        .order_by("item_id", "answered_at")
    )
    for task in tasks:
        out[task.item_id].append(
            {"worker": task.worker.username, "text": answer_text(job.task_type, task.answer), "answer": task.answer}
        )
    return out


def _review_page(
    request: HttpRequest, job: LabelingJob, *, error: dict[int, str] | None = None, status: int = 200
) -> HttpResponse:
    show = request.GET.get("show", "pending")
    items = job.items.exclude(label_source=LabelSource.NONE).select_related("reviewed_by", "job")
    if show == "pending":
        items = items.filter(review_status=ReviewStatus.PENDING)
    # pending first, then the least confident
    pending_first = Case(When(review_status=ReviewStatus.PENDING, then=Value(0)), default=Value(1))
    items = items.order_by(pending_first, F("confidence").asc(nulls_first=True), "position")
    page = Paginator(items, REVIEW_PER_PAGE).get_page(request.GET.get("page"))
    objects = list(page.object_list)
    answers = _answers_by_item(objects)
    cards = []
    for item in objects:
        consolidated = item.consolidated if isinstance(item.consolidated, dict) else {}
        current = [consolidated["label"]] if "label" in consolidated else list(consolidated.get("labels") or [])
        cards.append(
            {
                "item": item,
                "view": item_view(item),
                "label": answer_text(job.task_type, item.consolidated),
                "answers": answers.get(item.pk, []),
                "current_labels": current,
                "preferred": consolidated.get("preferred"),
                "error": (error or {}).get(item.pk, ""),
            }
        )
    counts = job.items.aggregate(
        pending=Count("id", filter=Q(review_status=ReviewStatus.PENDING)),
        accepted=Count("id", filter=Q(review_status=ReviewStatus.ACCEPTED)),
        adjusted=Count("id", filter=Q(review_status=ReviewStatus.ADJUSTED)),
        labeled=Count("id", filter=~Q(label_source=LabelSource.NONE)),
    )
    context = {
        "job": job,
        "cards": cards,
        "page": page,
        "show": show,
        "counts": counts,
        "single": job.task_type in SINGLE_LABEL,
        "multi": job.task_type in MULTI_LABEL,
        "pairwise": job.task_type == TaskType.PAIRWISE_PREFERENCE,
        "can_manage": _can_manage(request),
    }
    return render(request, "labeling/studio_review.html", context, status=status)


class JobReviewView(StudioMixin, View):
    capabilities = {"post": personas.MANAGE_LABELING}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _review_page(request, selectors.job_get_for_user(user=request_user(request), pk=pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = request_user(request)
        job = selectors.job_get_for_user(user=user, pk=pk)
        raw = str(request.POST.get("item") or "")
        item = job.items.filter(pk=int(raw)).first() if raw.isdigit() else None
        if item is None:
            messages.error(request, "Choose an item of this job to review.")
            return HttpResponseRedirect(reverse("labeling:review", args=[job.pk]))
        try:
            answer = None
            if request.POST.get("decision") == "adjust":
                answer = parse_answer(job.task_type, request.POST, list(job.labels or []))
                if answer is None:
                    raise ValidationError({"answer": "Choose the label this item should have."})
            from apps.labeling.services.review import item_review

            item_review(item=item, user=user, answer=answer)
        except ValidationError as exc:
            text = " ".join(validation_messages(exc, bare=("__all__", "answer", "label", "labels")))
            return _review_page(request, job, error={item.pk: text}, status=400)
        done = "adjusted" if answer is not None else "accepted"
        messages.success(request, f"Item {item.position}: label {done}.")
        query = request.GET.urlencode()
        return HttpResponseRedirect(reverse("labeling:review", args=[job.pk]) + (f"?{query}" if query else ""))


urlpatterns = [
    path("", JobListView.as_view(), name="list"),
    path("new/", JobCreateView.as_view(), name="create"),
    path("new/preview/", InstructionsPreviewView.as_view(), name="preview"),
    path("<id:pk>/", JobDetailView.as_view(), name="detail"),
    path("<id:pk>/action/", JobActionView.as_view(), name="action"),
    path("<id:pk>/review/", JobReviewView.as_view(), name="review"),
]
