import django_filters

from apps.datasets.choices import VersionKind
from apps.datasets.models import Dataset, DatasetVersion, Flow


class DatasetFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Dataset
        fields = ["project", "name"]


class VersionFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    dataset = django_filters.NumberFilter(field_name="dataset_id")
    kind = django_filters.ChoiceFilter(choices=VersionKind.choices)

    class Meta:
        model = DatasetVersion
        fields = ["project", "dataset", "kind"]


class FlowFilterSet(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Flow
        fields = ["project", "name"]
