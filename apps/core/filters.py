"""The one FilterSet base every filterset derives from (UI views and API alike) and the bounded filters it uses:
an id filter takes whole numbers 1..MAX_ID and an integer filter the range of a 64-bit column, so that
`?project=1e30` is a 400 naming `project` instead of an OverflowError in the database. The API's filter backend
(settings REST_FRAMEWORK) builds the filtersets of `filterset_fields` on the same base, and the OpenAPI schema
documents each bound."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters.filterset import remote_queryset
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet
from drf_spectacular.drainage import set_override

from apps.core.ids import MAX_ID

INT64_MIN = -(2**63)


def _documented(filter_: Any, min_value: int, max_value: int) -> None:
    set_override(filter_, "field", {"type": "integer", "minimum": min_value, "maximum": max_value})


class IntegerFilter(django_filters.NumberFilter):
    """A whole number in min_value..max_value (by default a 64-bit column's range), or a 400 naming the filter."""

    field_class = forms.IntegerField
    bounds = (INT64_MIN, MAX_ID)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", self.bounds[0])
        kwargs.setdefault("max_value", self.bounds[1])
        super().__init__(*args, **kwargs)
        _documented(self, kwargs["min_value"], kwargs["max_value"])


class IdFilter(IntegerFilter):
    """An object's id (`?project=3`): a whole number 1..MAX_ID."""

    bounds = (1, MAX_ID)


class BoundedModelChoiceField(django_filters.fields.ModelChoiceField):
    """A model choice by id: a value that is not a whole number in 1..MAX_ID is refused before the database sees
    it."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        forms.IntegerField(min_value=1, max_value=MAX_ID).clean(value)
        return super().to_python(value)


class BoundedModelChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = BoundedModelChoiceField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _documented(self, 1, MAX_ID)


def _model_choice(field: Any) -> dict[str, Any]:
    return {"queryset": remote_queryset(field), "to_field_name": field.remote_field.field_name}


def _unsigned(field: Any) -> dict[str, Any]:
    return {"min_value": 0}


class FilterSet(RestFilterSet):
    """Base of every filterset: foreign keys, ids and integer columns get bounded filters."""

    FILTER_DEFAULTS = {
        **RestFilterSet.FILTER_DEFAULTS,
        models.AutoField: {"filter_class": IdFilter},
        models.BigAutoField: {"filter_class": IdFilter},
        models.IntegerField: {"filter_class": IntegerFilter},
        models.BigIntegerField: {"filter_class": IntegerFilter},
        models.SmallIntegerField: {"filter_class": IntegerFilter},
        models.PositiveIntegerField: {"filter_class": IntegerFilter, "extra": _unsigned},
        models.PositiveSmallIntegerField: {"filter_class": IntegerFilter, "extra": _unsigned},
        models.PositiveBigIntegerField: {"filter_class": IntegerFilter, "extra": _unsigned},
        models.ForeignKey: {"filter_class": BoundedModelChoiceFilter, "extra": _model_choice},
        models.OneToOneField: {"filter_class": BoundedModelChoiceFilter, "extra": _model_choice},
    }


class FilterBackend(DjangoFilterBackend):
    """DRF's django-filter backend with our FilterSet as the base of `filterset_fields` filtersets."""

    filterset_base = FilterSet
