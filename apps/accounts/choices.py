from django.db import models


class Persona(models.TextChoices):
    ADMIN = "admin", "Admin"
    DATA_SCIENTIST = "data_scientist", "Data Scientist"
    MLOPS_ENGINEER = "mlops_engineer", "MLOps Engineer"
    LABELER = "labeler", "Labeler"
