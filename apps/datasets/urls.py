from django.urls import path

from apps.datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.DatasetIndexView.as_view(), name="index"),
    path("datasets/", views.DatasetListView.as_view(), name="list"),
    path("datasets/import-sql/", views.DatasetSqlImportView.as_view(), name="import_sql"),
    path("datasets/<id:pk>/", views.DatasetDetailView.as_view(), name="detail"),
    path("datasets/<id:pk>/delete/", views.DatasetDeleteView.as_view(), name="delete"),
    path("datasets/versions/<id:pk>/retype/", views.VersionRetypeView.as_view(), name="retype"),
    path("datasets/versions/<id:pk>/profile/", views.ProfileStartView.as_view(), name="profile_start"),
    path("datasets/versions/<id:pk>/report/", views.ReportView.as_view(), name="report"),
    path("datasets/reports/<id:pk>/download/", views.ReportDownloadView.as_view(), name="report_download"),
    path("sql/", views.SqlEditorView.as_view(), name="sql"),
    path("flows/", views.FlowListView.as_view(), name="flow_list"),
    path("flows/<id:pk>/", views.FlowDetailView.as_view(), name="flow_detail"),
    path("flows/<id:pk>/steps/", views.FlowStepView.as_view(), name="flow_step_add"),
    path("flows/<id:pk>/steps/<slug:step_id>/", views.FlowStepView.as_view(), name="flow_step_edit"),
    path("flows/<id:pk>/steps/<slug:step_id>/delete/", views.FlowStepDeleteView.as_view(), name="flow_step_delete"),
    path("flows/<id:pk>/sources/", views.FlowSourceAddView.as_view(), name="flow_source_add"),
    path(
        "flows/<id:pk>/sources/<slug:source_id>/delete/",
        views.FlowSourceDeleteView.as_view(),
        name="flow_source_delete",
    ),
    path("flows/<id:pk>/run/", views.FlowRunView.as_view(), name="flow_run"),
    path("flows/<id:pk>/export/", views.FlowExportView.as_view(), name="flow_export"),
    path("flows/<id:pk>/delete/", views.FlowDeleteView.as_view(), name="flow_delete"),
    path("flows/<id:pk>/analyses/", views.FlowAnalysisAddView.as_view(), name="flow_analysis_add"),
    path("flows/analyses/<id:pk>/delete/", views.FlowAnalysisDeleteView.as_view(), name="flow_analysis_delete"),
]
