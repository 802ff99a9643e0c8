"""Limit/offset pagination for every list API, with the two numbers validated: a limit or offset that is not a
whole number in range is a 400 naming it (DRF alone ignores a bad limit and passes any offset to the database,
where a huge one overflows)."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination

from apps.core.ids import MAX_OFFSET, int_param


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 1000

    def get_limit(self, request: Any) -> int | None:
        return int_param(
            request.query_params,
            self.limit_query_param,
            default=self.default_limit,
            min_value=1,
            max_value=self.max_limit,
        )

    def get_offset(self, request: Any) -> int:
        return int_param(request.query_params, self.offset_query_param, default=0, max_value=MAX_OFFSET)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, MAX_OFFSET)}
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"] = {**parameter["schema"], "minimum": low, "maximum": high}
        return parameters
