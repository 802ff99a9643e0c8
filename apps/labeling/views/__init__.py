"""Ground Truth pages: `studio` (data scientists: jobs, their quality and review, exports) and `work` (labelers:
My work and the labeling forms). Each module has its own `urlpatterns`, joined in apps/labeling/urls.py."""
