"""Data Wrangler pages: datasets (upload, versions, lineage, table view), the quality report, the SQL editor and
the flow editor. Views parse input, call one service or selector, and render; scoping lives in the selectors."""

from apps.datasets.views.datasets import (
    DatasetDeleteView,
    DatasetDetailView,
    DatasetIndexView,
    DatasetListView,
    DatasetSqlImportView,
    VersionRetypeView,
)
from apps.datasets.views.flows import (
    FlowAnalysisAddView,
    FlowAnalysisDeleteView,
    FlowDeleteView,
    FlowDetailView,
    FlowExportView,
    FlowListView,
    FlowRunView,
    FlowSourceAddView,
    FlowSourceDeleteView,
    FlowStepDeleteView,
    FlowStepView,
)
from apps.datasets.views.reports import (
    ProfileStartView,
    ReportDownloadView,
    ReportView,
)
from apps.datasets.views.sql import (
    SqlEditorView,
)

__all__ = [
    "DatasetDeleteView",
    "DatasetDetailView",
    "DatasetIndexView",
    "DatasetListView",
    "DatasetSqlImportView",
    "FlowAnalysisAddView",
    "FlowAnalysisDeleteView",
    "FlowDeleteView",
    "FlowDetailView",
    "FlowExportView",
    "FlowListView",
    "FlowRunView",
    "FlowSourceAddView",
    "FlowSourceDeleteView",
    "FlowStepDeleteView",
    "FlowStepView",
    "ProfileStartView",
    "ReportDownloadView",
    "ReportView",
    "SqlEditorView",
    "VersionRetypeView",
]
