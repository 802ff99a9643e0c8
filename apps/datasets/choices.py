from django.db import models


class VersionKind(models.TextChoices):
    """How a dataset version was made (its lineage says from what)."""

    IMPORT = "import", "File import"
    SQL_IMPORT = "sql_import", "Database query"
    FLOW = "flow", "Flow run"
    SQL = "sql", "SQL editor"
    RETYPE = "retype", "Column types changed"
    PREDICTION = "prediction", "Batch prediction"
    MODEL_OUTPUT = "model_output", "Model output"
    LABELING = "labeling", "Labeling job"


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    TSV = "tsv", "TSV"
    PARQUET = "parquet", "Parquet"
    JSON = "json", "JSON"
    JSONL = "jsonl", "JSON Lines"
    XLSX = "xlsx", "Excel (.xlsx)"


class SampleMethod(models.TextChoices):
    ALL = "all", "All rows"
    FIRST = "first", "First rows"
    RANDOM = "random", "Random sample"
    STRATIFIED = "stratified", "Stratified sample"


class AnalysisKind(models.TextChoices):
    HISTOGRAM = "histogram", "Histogram"
    SCATTER = "scatter", "Scatter plot"
    BOX = "box", "Box plot"
    CORRELATION = "correlation", "Correlation heatmap"
    LINE = "line", "Time series (line)"


class ColumnType(models.TextChoices):
    """Semantic column types (apps/datasets/inference.py TYPES)."""

    NUMERIC = "numeric", "Numeric"
    INTEGER = "integer", "Integer"
    BOOLEAN = "boolean", "Boolean"
    CATEGORICAL = "categorical", "Categorical"
    DATETIME = "datetime", "Date/time"
    TEXT = "text", "Text"
    IDENTIFIER = "identifier", "Identifier"
