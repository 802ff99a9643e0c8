from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.accounts.selectors import project_get_for_user
from apps.core.api.errors import error_response
from apps.core.api.negotiation import AttachmentNegotiation
from apps.core.attachments import attachment
from apps.core.ids import ID_SCHEMA, int_param
from apps.core.uploads import CappedUploadApiMixin, refusal_message, upload_refusal
from apps.datasets import selectors, services
from apps.datasets import storage as files
from apps.datasets.api import serializers as s
from apps.datasets.filtersets import DatasetFilterSet, FlowFilterSet, VersionFilterSet
from apps.datasets.models import DatasetVersion
from apps.datasets.tokens import boolean_tokens


def _project_of(request: Request) -> Any:
    """The project named in the request body: a foreign (or unknown) project is a 404, never a 403."""
    pk = int_param(request.data, "project", min_value=1) if hasattr(request.data, "get") else None
    if pk is None:
        raise ValidationError({"project": "This field is required."})
    return project_get_for_user(user=request_user(request), pk=pk)


def _too_large(request: Request) -> Response | None:
    request.data  # noqa: B018 - parse the body now (through the capped upload handler)
    limit = upload_refusal(request)
    if limit is None:
        return None
    message = refusal_message(limit)
    return error_response(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, message, code="too_large", field="file")


CSV_ESCAPES = ("formulas", "none")


def version_download(version: DatasetVersion, fmt: str | None, escape: str | None = None) -> Any:
    """The version as a file. CSV is written for people by default (`escape=formulas`: text cells and column names
    that a spreadsheet would run as a formula get a leading single quote, apps/core/csvio.py); `escape=none` gives
    the exact values for pipelines."""
    fmt = (fmt or "parquet").lower()
    escape = (escape or "formulas").lower()
    stem = f"{slugify(version.dataset.name) or 'dataset'}-v{version.number}"
    if escape not in CSV_ESCAPES:
        raise ValidationError({"escape": f"Unknown CSV escape {escape!r}; use formulas (the default) or none."})
    if fmt == "parquet":
        parquet = FileResponse(files.storage().open(version.file, "rb"), content_type="application/vnd.apache.parquet")
        return attachment(parquet, f"{stem}.parquet")
    if fmt == "csv":
        chunks = files.iter_csv_chunks(
            version.file, neutralise=escape == "formulas", tokens=boolean_tokens(version.schema)
        )
        csv = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
        return attachment(csv, f"{stem}.csv")
    raise ValidationError({"format": f"Unknown download format {fmt!r}; use csv or parquet."})


# --- datasets -----------------------------------------------------------------------------------------------


class DatasetViewSet(CappedUploadApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Datasets of the caller's projects. `POST` (multipart) imports a file as a job: 202 `{id, job}`."""

    capability = personas.USE_STUDIO
    capabilities = {"create": personas.RUN_JOBS, "versions": personas.RUN_JOBS}

    serializer_class = s.DatasetSerializer
    filterset_class = DatasetFilterSet
    ordering_fields = ["name", "created_at"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.dataset_list_for_user(user=self.request.user).order_by("name", "pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.dataset_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request={"multipart/form-data": s.DatasetImportSerializer}, responses={202: s.AcceptedSerializer})
    def create(self, request: Request) -> Response:
        refused = _too_large(request)
        if refused is not None:
            return refused
        project = _project_of(request)
        data = s.DatasetImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset, job = services.dataset_import_start(
            project=project,
            created_by=request_user(request),
            upload=data.validated_data["file"],
            name=data.validated_data["name"],
            options=data.options(),
            description=data.validated_data.get("description", ""),
            filename=data.validated_data.get("filename") or None,
        )
        return Response(
            {"id": dataset.pk, "job": job.pk, "name": dataset.name, "project": project.pk, "latest_version": None},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request={"multipart/form-data": s.VersionImportSerializer}, responses={202: s.AcceptedSerializer})
    @action(detail=True, methods=["post"], url_path="versions", url_name="versions")
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """Import a file as a new version of this dataset (a job)."""
        refused = _too_large(request)
        if refused is not None:
            return refused
        dataset = self.get_object()
        data = s.VersionImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.dataset_version_import_start(
            dataset=dataset,
            created_by=request_user(request),
            upload=data.validated_data["file"],
            options=data.options(),
            filename=data.validated_data.get("filename") or None,
        )
        return Response({"id": dataset.pk, "job": job.pk}, status=status.HTTP_202_ACCEPTED)


class DatasetSqlImportApi(APIView):
    """Import the result of one read-only SELECT on an admin-configured database connection (a job)."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.RUN_JOBS}

    @extend_schema(request=s.SqlImportSerializer, responses={202: s.AcceptedSerializer})
    def post(self, request: Request) -> Response:
        project = _project_of(request)
        data = s.SqlImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        connection = selectors.connection_get_for_project(project=project, pk=data.validated_data["connection"])
        dataset, job = services.dataset_sql_import_start(
            project=project,
            created_by=request_user(request),
            connection=connection,
            query=data.validated_data["query"],
            name=data.validated_data["name"],
            description=data.validated_data["description"],
        )
        return Response({"id": dataset.pk, "job": job.pk}, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("project", ID_SCHEMA)]))
class DataConnectionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Database connections open to the caller's projects (`?project=` to pick one)."""

    capability = personas.USE_STUDIO

    serializer_class = s.DataConnectionSerializer
    filterset_class = None

    def get_queryset(self):  # type: ignore[no-untyped-def]
        from apps.accounts.selectors import project_list_for_user
        from apps.datasets.models import DataConnection

        projects = project_list_for_user(user=self.request.user)
        wanted = int_param(self.request.query_params, "project", min_value=1)
        if wanted is not None:
            projects = projects.filter(pk=wanted)
        return DataConnection.objects.filter(projects__in=projects).distinct().order_by("name")


# --- versions -----------------------------------------------------------------------------------------------------


class DatasetVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    capability = personas.USE_STUDIO
    capabilities = {"profile:post": personas.RUN_JOBS, "retype": personas.RUN_JOBS}
    serializer_class = s.DatasetVersionSerializer
    filterset_class = VersionFilterSet
    ordering_fields = ["created_at", "number"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            selectors.version_list_for_user(user=self.request.user)
            .prefetch_related("parents")
            .order_by("-created_at", "-pk")
        )

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.version_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(
        parameters=[OpenApiParameter("offset", int), OpenApiParameter("limit", int)], responses=s.RowsSerializer
    )
    @action(detail=True, methods=["get"])
    def rows(self, request: Request, pk: str | None = None) -> Response:
        """A page of rows (`limit` at most 1000), read from the Parquet row groups that hold them."""
        version = self.get_object()
        return Response(
            selectors.version_rows(
                version=version, offset=request.query_params.get("offset"), limit=request.query_params.get("limit")
            )
        )

    @extend_schema(
        methods=["GET"],
        parameters=[OpenApiParameter("target", str), OpenApiParameter("report", ID_SCHEMA)],
        responses={200: dict},
    )
    @extend_schema(methods=["POST"], request=s.ProfileStartSerializer, responses={202: s.JobStartedSerializer})
    @action(detail=True, methods=["get", "post"])
    def profile(self, request: Request, pk: str | None = None) -> Any:
        """GET: the latest Data Quality and Insights report (JSON). POST `{target?}`: compute one (a job)."""
        version = self.get_object()
        if request.method == "POST":
            data = s.ProfileStartSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            job = services.profile_start(
                version=version,
                created_by=request_user(request),
                target=data.validated_data.get("target"),
            )
            return Response({"job": job.pk, "version": version.pk}, status=status.HTTP_202_ACCEPTED)
        target = request.query_params.get("target")
        report = selectors.report_latest(version=version, target=target)
        wanted = int_param(request.query_params, "report", min_value=1)
        if wanted is not None:
            report = selectors.report_list_for_version(version=version).filter(pk=wanted).first()
        if report is None:
            from rest_framework.exceptions import NotFound

            running = selectors.active_jobs_for_version(version=version, kinds=("datasets.profile",))
            if running:
                raise NotFound(
                    f"The report of {version} is being computed (job {running[0].pk}); "
                    "fetch it again once that job has finished."
                )
            raise NotFound(
                f"No profile report for {version}"
                + (f" with target {target!r}" if target else "")
                + " yet; POST to this URL to compute one."
            )
        with files.storage().open(report.file, "rb") as handle:
            body = handle.read()
        response = HttpResponse(body, content_type="application/json")
        response["X-Profile-Report"] = str(report.pk)
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=["csv", "parquet"], description="File format (default parquet)."),
            OpenApiParameter(
                "escape",
                str,
                enum=list(CSV_ESCAPES),
                description=(
                    "CSV only. `formulas` (default, for spreadsheets): a text cell or column name starting with "
                    "`=`, `+`, `-`, `@`, tab, carriage return, line feed (or their full-width forms) or a single "
                    "quote gets one leading single quote, so a spreadsheet shows it as text instead of running it "
                    "(OWASP CSV injection); drop one leading single quote from text cells and names to get the "
                    "values back. Numeric, boolean and date columns are never changed. `none`: the exact values, "
                    "for pipelines."
                ),
            ),
        ],
        responses={(200, "application/vnd.apache.parquet"): bytes, (200, "text/csv"): bytes},
    )
    @action(detail=True, methods=["get"], content_negotiation_class=AttachmentNegotiation)
    def download(self, request: Request, pk: str | None = None) -> Any:
        """The version as a file attachment: `?format=parquet` (default) or `?format=csv` (`&escape=none` for the
        exact values; by default spreadsheet formulas are defused)."""
        params = request.query_params
        return version_download(self.get_object(), params.get("format"), params.get("escape"))

    @extend_schema(request=s.RetypeSerializer, responses={202: s.JobStartedSerializer})
    @action(detail=True, methods=["post"])
    def retype(self, request: Request, pk: str | None = None) -> Response:
        """Change column types (`{columns: {name: type}}`): a job that writes a new version."""
        version = self.get_object()
        data = s.RetypeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.version_retype_start(
            version=version,
            created_by=request_user(request),
            columns=data.validated_data["columns"],
        )
        return Response({"job": job.pk, "version": version.pk}, status=status.HTTP_202_ACCEPTED)


# --- flows -------------------------------------------------------------------------------------------------------


class FlowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    capability = personas.USE_STUDIO
    capabilities = {"run": personas.RUN_JOBS}
    serializer_class = s.FlowSerializer
    filterset_class = FlowFilterSet
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.flow_list_for_user(user=self.request.user).order_by("name", "pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.flow_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.FlowCreateSerializer, responses={201: s.FlowSerializer})
    def create(self, request: Request) -> Response:
        project = _project_of(request)
        data = s.FlowCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = data.validated_data["sources"]
        versions = {
            v.pk: v
            for v in selectors.version_list_for_user(user=request_user(request)).filter(pk__in=wanted, project=project)
        }
        missing = [pk for pk in wanted if pk not in versions]
        if missing:
            raise ValidationError({"sources": f"No dataset version(s) {missing} in this project."})
        flow = services.flow_create(
            project=project,
            created_by=request_user(request),
            name=data.validated_data["name"],
            sources=[versions[pk] for pk in wanted],
            description=data.validated_data["description"],
            output_name=data.validated_data["output_name"],
        )
        return Response(s.FlowSerializer(flow).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.StepSerializer, responses={201: dict})
    @action(detail=True, methods=["post"])
    def steps(self, request: Request, pk: str | None = None) -> Response:
        """Add a step (checked on a preview sample); returns the step id and its preview."""
        flow = self.get_object()
        data = s.StepSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flow, step_id, preview = services.flow_step_add(
            flow=flow,
            op=data.validated_data["op"],
            parameters=data.validated_data["parameters"],
            inputs=data.validated_data.get("inputs") or None,
            label=data.validated_data["label"],
        )
        return Response(
            {"step": step_id, "preview": preview.as_dict(), "flow": s.FlowSerializer(flow).data},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.FlowPreviewSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """Run what a step needs on a sample (at most 50,000 rows per source): first 50 rows and the schema.
        `{step}` previews a saved step (default: the last); `{draft: {op, parameters, inputs?}}` an unsaved one."""
        flow = self.get_object()
        data = s.FlowPreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft = data.validated_data.get("draft")
        definition = None
        if draft:
            definition, step_id = services.flow_step_draft(
                flow,
                op=draft["op"],
                parameters=draft["parameters"],
                inputs=draft.get("inputs") or None,
                label=draft.get("label", ""),
            )
        else:
            step_id = data.validated_data.get("step") or (flow.steps[-1]["id"] if flow.steps else flow.sources[0]["id"])
        preview = services.flow_preview_or_error(flow, definition, step_id)
        return Response(preview.as_dict())

    @extend_schema(request=s.FlowRunSerializer, responses={202: s.JobStartedSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        """Run the flow on the full data (a job) into a new version of the output dataset."""
        flow = self.get_object()
        data = s.FlowRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.flow_run_start(
            flow=flow,
            created_by=request_user(request),
            output_name=data.validated_data.get("output_name") or None,
        )
        return Response({"job": job.pk, "flow": flow.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "text/x-python"): str})
    @action(detail=True, methods=["get"], content_negotiation_class=AttachmentNegotiation)
    def export(self, request: Request, pk: str | None = None) -> Any:
        """The flow as a standalone pandas script (an attachment)."""
        name, script = selectors.flow_script(flow=self.get_object())
        return attachment(HttpResponse(script, content_type="text/x-python; charset=utf-8"), name)


class OperatorListApi(APIView):
    """The transform operators with their parameter specs (what the flow editor renders as forms)."""

    capability = personas.USE_STUDIO

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        from apps.datasets.transforms import operator_specs

        return Response({"operators": operator_specs()})


# --- SQL -----------------------------------------------------------------------------------------------------------


class SqlQueryApi(APIView):
    """One read-only SELECT over the project's dataset tables (DuckDB sandbox): at most 1000 rows."""

    capability = personas.USE_STUDIO

    @extend_schema(request=s.SqlQuerySerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        project = _project_of(request)
        data = s.SqlQuerySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(selectors.sql_preview(project=project, query=data.validated_data["query"]))


class SqlSaveApi(APIView):
    """Run a SELECT on the full data and save the result as a new dataset version (a job)."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.RUN_JOBS}

    @extend_schema(request=s.SqlSaveSerializer, responses={202: s.JobStartedSerializer})
    def post(self, request: Request) -> Response:
        project = _project_of(request)
        data = s.SqlSaveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.sql_save_start(
            project=project,
            created_by=request_user(request),
            query=data.validated_data["query"],
            name=data.validated_data["name"],
        )
        return Response({"job": job.pk}, status=status.HTTP_202_ACCEPTED)
