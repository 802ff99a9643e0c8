import django_filters

from apps.jobs.choices import JobStatus
from apps.jobs.models import Job


class JobFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    kind = django_filters.CharFilter()
    project = django_filters.NumberFilter(field_name="project_id")

    class Meta:
        model = Job
        fields = ["status", "kind", "project"]
