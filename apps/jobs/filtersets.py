import django_filters

from apps.core.filters import FilterSet, IdFilter
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job


class JobFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    kind = django_filters.CharFilter()
    project = IdFilter(field_name="project_id")

    class Meta:
        model = Job
        fields = ["status", "kind", "project"]
