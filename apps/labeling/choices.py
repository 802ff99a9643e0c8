from django.db import models


class TaskType(models.TextChoices):
    """What a worker does with one item. The answer shape of each is in apps/labeling/answers.py."""

    TEXT_CLASSIFICATION = "text_classification", "Text classification (one label)"
    TEXT_CLASSIFICATION_MULTI = "text_classification_multi", "Text classification (several labels)"
    NAMED_ENTITY = "named_entity", "Named entities (spans of text)"
    IMAGE_CLASSIFICATION = "image_classification", "Image classification (one label)"
    IMAGE_CLASSIFICATION_MULTI = "image_classification_multi", "Image classification (several labels)"
    BOUNDING_BOX = "bounding_box", "Bounding boxes"
    TABULAR_CLASSIFICATION = "tabular_classification", "Tabular row classification"
    LABEL_VERIFICATION = "label_verification", "Label verification (of an earlier job's labels)"
    RATING = "rating", "Rating (a scale per criterion)"
    PAIRWISE_PREFERENCE = "pairwise_preference", "Pairwise preference (which response is better)"
    RANKING = "ranking", "Ranking of responses"
    REWRITE = "rewrite", "Rewrite (a better response)"


class SourceKind(models.TextChoices):
    DATASET = "dataset", "Rows of a dataset version"
    IMAGES = "images", "Uploaded images (files or a zip)"
    PROMPTS = "prompts", "Prompts with model responses (JSON Lines)"
    JOB = "job", "The labels of an earlier labeling job"


class JobStatus(models.TextChoices):
    PREPARING = "preparing", "Preparing items"
    ACTIVE = "active", "Open for work"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class TaskStatus(models.TextChoices):
    ACTIVE = "active", "Claimed"
    ANSWERED = "answered", "Answered"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"


class LabelSource(models.TextChoices):
    """Where an item's consolidated label comes from (the manifest's human-annotated flag)."""

    NONE = "none", "Not labeled yet"
    HUMAN = "human", "Consolidated from workers' answers"
    AUTO = "auto", "Automated labeling"
    REVIEWED = "reviewed", "Set by a reviewer"


class ReviewStatus(models.TextChoices):
    NONE = "none", "No review"
    PENDING = "pending", "Waiting for review"
    ACCEPTED = "accepted", "Accepted"
    ADJUSTED = "adjusted", "Adjusted"


class ExportFormat(models.TextChoices):
    MANIFEST = "manifest", "SageMaker augmented manifest (JSON Lines)"
    CSV = "csv", "CSV"
    COCO = "coco", "COCO (bounding boxes)"
    CONLL = "conll", "CoNLL (named entities)"
    PREFERENCE = "preference", "Preference JSON Lines (prompt, chosen, rejected)"
    DATASET = "dataset", "A new dataset version with the labels"
