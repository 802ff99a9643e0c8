from apps.labeling.views import studio, work

app_name = "labeling"

urlpatterns = [*studio.urlpatterns, *work.urlpatterns]
