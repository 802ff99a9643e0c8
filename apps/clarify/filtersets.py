import django_filters

from apps.clarify.choices import MitigationKind, ReportKind
from apps.clarify.models import ClarifyReport
from apps.core.filters import FilterSet, IdFilter


class ReportFilterSet(FilterSet):
    """`?project=`, and the reports of one dataset version, registry version, Canvas build or report (before/after)."""

    project = IdFilter(field_name="project_id")
    dataset_version = IdFilter(field_name="dataset_version_id")
    model_version = IdFilter(field_name="model_version_id")
    automl_build = IdFilter(field_name="automl_build_id")
    parent = IdFilter(field_name="parent_id")
    kind = django_filters.ChoiceFilter(choices=ReportKind.choices)
    mitigation = django_filters.ChoiceFilter(choices=MitigationKind.choices)

    class Meta:
        model = ClarifyReport
        fields = ["project", "dataset_version", "model_version", "automl_build", "parent", "kind", "mitigation"]
