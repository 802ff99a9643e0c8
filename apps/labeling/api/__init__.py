"""The labeling API, one module per part: `jobs` (jobs, sources, teams' jobs), `queue` (next task, answers, skip),
`quality` (consolidation, review, stats), `exports` (exports, to dataset, automated labeling). Each module has its
own `urlpatterns`, joined in apps/labeling/api/urls.py."""
