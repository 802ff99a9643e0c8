from django.db import models


class EndpointType(models.TextChoices):
    """SageMaker's inference options (batch transform is a job: apps/endpoints/models.BatchTransform)."""

    REALTIME = "realtime", "Real-time"
    SERVERLESS = "serverless", "Serverless"
    ASYNC = "async", "Asynchronous"


class EndpointStatus(models.TextChoices):
    IN_SERVICE = "InService", "In service"
    OUT_OF_SERVICE = "OutOfService", "Out of service"


class AsyncStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
