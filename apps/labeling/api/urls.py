from apps.labeling.api import exports, jobs, quality, queue

urlpatterns = [*jobs.urlpatterns, *queue.urlpatterns, *quality.urlpatterns, *exports.urlpatterns]
