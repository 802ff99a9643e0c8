from django.urls import path

from apps.jobs.consumers import JobStreamConsumer

websocket_urlpatterns = [path("ws/jobs/", JobStreamConsumer.as_asgi())]
