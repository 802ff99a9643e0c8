import django_filters

from apps.core.filters import FilterSet, IdFilter
from apps.registry.choices import ApprovalStatus, ModelFormat
from apps.registry.models import ModelGroup, ModelVersion


class GroupFilterSet(FilterSet):
    project = IdFilter(field_name="project_id")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = ModelGroup
        fields = ["project", "name"]


class VersionFilterSet(FilterSet):
    project = IdFilter(field_name="project_id")
    group = IdFilter(field_name="group_id")
    approval_status = django_filters.ChoiceFilter(choices=ApprovalStatus.choices)
    format = django_filters.ChoiceFilter(choices=ModelFormat.choices)

    class Meta:
        model = ModelVersion
        fields = ["project", "group", "approval_status", "format"]
