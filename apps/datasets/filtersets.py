import django_filters

from apps.core.filters import FilterSet, IdFilter
from apps.datasets.choices import VersionKind
from apps.datasets.models import Dataset, DatasetVersion, Flow


class DatasetFilterSet(FilterSet):
    project = IdFilter(field_name="project_id")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Dataset
        fields = ["project", "name"]


class VersionFilterSet(FilterSet):
    project = IdFilter(field_name="project_id")
    dataset = IdFilter(field_name="dataset_id")
    kind = django_filters.ChoiceFilter(choices=VersionKind.choices)

    class Meta:
        model = DatasetVersion
        fields = ["project", "dataset", "kind"]


class FlowFilterSet(FilterSet):
    project = IdFilter(field_name="project_id")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Flow
        fields = ["project", "name"]
