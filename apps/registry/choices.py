from django.db import models


class ApprovalStatus(models.TextChoices):
    """SageMaker's model package approval states (the API speaks these exact strings)."""

    PENDING = "PendingManualApproval", "Pending manual approval"
    APPROVED = "Approved", "Approved"
    REJECTED = "Rejected", "Rejected"


class ModelFormat(models.TextChoices):
    ATELIER = "atelier", "Atelier (trained here, signed)"
    SKOPS = "skops", "skops (imported)"
    ONNX = "onnx", "ONNX (imported)"


class SourceKind(models.TextChoices):
    AUTOML = "automl", "Canvas build"
    TUNING = "tuning", "Tuning job"
    IMPORT = "import", "Imported file"
