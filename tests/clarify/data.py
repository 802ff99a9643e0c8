"""Generated data for the Clarify app tests: a churn frame that the registry test model (tests/factories.binary_model:
x1, x2, colour → churn yes/no) reads, with a facet `gender` whose women get fewer positive labels, an `age` for
numeric facets, a `region` group variable and `churn_true`, a trusted reference that the label mis-records for
women only (measurement bias)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tests.factories import make_version


def churn_frame(n: int = 600, seed: int = 0, flip_women: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    gender = rng.choice(["F", "M"], size=n, p=[0.35, 0.65])
    truth = x1 + 0.5 * x2 + (colour == "red") > 0.3
    # The recorded label drops a share of women's positives: a measurement error on one group only.
    dropped = (gender == "F") & truth & (rng.random(n) < flip_women)
    label = truth & ~dropped
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "colour": colour,
            "gender": gender,
            "age": rng.integers(18, 80, size=n),
            "region": rng.choice(["north", "south"], size=n),
            "churn": np.where(label, "yes", "no"),
            "churn_true": np.where(truth, "yes", "no"),
        }
    )


def churn_version(project: Any, user: Any, n: int = 600, seed: int = 0) -> Any:
    return make_version(project, user, churn_frame(n, seed), name="churn")


CONFIG = {
    "label": "churn",
    "positive_label_values": ["yes"],
    "facets": [{"name": "gender", "values": ["F"]}],
    "group": "region",
}
