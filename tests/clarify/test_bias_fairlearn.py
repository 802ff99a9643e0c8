"""Cross-check with Fairlearn where it computes the same quantity: its demographic parity difference is |DPPL|
(max - min selection rate over the two groups), and its equalized odds difference is the larger of the absolute
differences in true and false positive rates, which we read from our per-facet confusion matrices (and which equal
|RD| and |SD|)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from apps.clarify.engine.bias import FacetSpec, LabelSpec, facet_breakdown, post_training_bias


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demographic_parity_and_equalized_odds_agree_with_fairlearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5000
    group = rng.choice(["g1", "g2"], n, p=[0.3, 0.7])
    y = (rng.random(n) < np.where(group == "g1", 0.3, 0.5)).astype(int)
    predicted = np.where(rng.random(n) < 0.8, y, 1 - y)
    predicted = np.where((group == "g1") & (rng.random(n) < 0.1), 0, predicted)  # the model is harsher on g1
    df = pd.DataFrame({"group": group, "y": y, "x": rng.normal(size=n)})
    label = LabelSpec("y", (1,))

    post = post_training_bias(
        df, label=label, predicted=predicted, facets=[FacetSpec("group", ("g1",))], metrics=["DPPL", "RD", "SD"]
    )
    values = {m["name"]: m["value"] for m in post["facets"]["group"][0]["metrics"]}
    dp = demographic_parity_difference(y, predicted, sensitive_features=group)
    assert values["DPPL"] > 0  # g1 gets fewer positive predictions: SageMaker's sign is positive
    assert abs(values["DPPL"]) == pytest.approx(dp, abs=1e-12)

    rows = facet_breakdown(df, label=label, facets=[FacetSpec("group", ("g1",))], predicted=predicted)
    rates = {}
    for row in rows["facets"]["group"]:
        (tn, fp), (fn, tp) = row["confusion_matrix"]
        rates[row["value"]] = (tp / (tp + fn), fp / (fp + tn))
    tpr_gap = abs(rates["g1"][0] - rates["g2"][0])
    fpr_gap = abs(rates["g1"][1] - rates["g2"][1])
    eo = equalized_odds_difference(y, predicted, sensitive_features=group)
    assert max(tpr_gap, fpr_gap) == pytest.approx(eo, abs=1e-12)
    assert max(abs(values["RD"]), abs(values["SD"])) == pytest.approx(eo, abs=1e-12)
    assert abs(values["RD"]) == pytest.approx(tpr_gap, abs=1e-12)
