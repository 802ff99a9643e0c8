"""Explanations: SHAP feature attributions (global and for one row) and partial dependence, for Canvas models and
for any prediction function. Plain Python (no Django); reads Canvas models through ``apps.automl.engine``.

What is explained
    Classification: the probability of one class (binary: the positive class, ``model.classes[1]``), the number the
    what-if and the predictions show. Regression: the predicted value. ``output`` in every result says it in words.

Two methods
    ``tree`` (exact): every member of a Canvas ensemble (an sklearn Pipeline of a preprocessor and an estimator) is
    explained by TreeSHAP (``shap.TreeExplainer``, path-dependent: no background data, the training data's covers
    weigh the paths) in the estimator's own output: probabilities for random forests / extra trees, log-odds for
    LightGBM and histogram gradient boosting, values for regressors. The values of the transformed columns (one-hot
    levels, missing indicators, date parts, TF-IDF terms) are summed back to the input column they came from. The
    members' attributions are then carried to the explained output through the links between them, by the rescale
    rule (DeepLIFT's rule for a monotone link: each feature keeps its share of the change, and the shares add up to
    the change exactly): log-odds -> probability for boosters, the weighted blend (linear: exact), the temperature
    (rescale) and the uniform floor (affine: exact). So the values always add up: ``expected_value + sum(shap) ==
    prediction`` (within float rounding), where ``expected_value`` is the explained output at the members' own base
    values (for one random forest with no calibration: exactly shap's ``expected_value``).
    A member TreeSHAP cannot read exactly (histogram gradient boosting with native categorical splits, which shap
    misreads; any non-tree estimator) is explained by Kernel SHAP, as below; the result's ``method`` is then
    ``"tree+kernel"``.

    ``kernel``: ``shap.KernelExplainer`` on the input columns as the user wrote them (categorical values coded as
    integers for shap, decoded before the model sees them) with a k-means summary of the background rows
    (``shap.kmeans``, which snaps every centre to values present in the data) and a sample budget ``nsamples``.
    Kernel SHAP enforces ``sum(shap) == f(x) - E_background[f]`` exactly, whatever the budget; with 2**M <= nsamples
    (M features) every coalition is evaluated and the values are the exact Shapley values against that background.

A model is an ``AtelierModel``, a fitted tree estimator or Pipeline ending in one, or any object with a
``predict_fn`` (or any callable) taking a DataFrame and returning 1-D scores (then only ``kernel`` applies).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apps.automl.engine.algorithms import predict_raw
from apps.automl.engine.columns import CATEGORICAL, NUMERIC, to_python
from apps.automl.engine.ensemble import apply_temperature
from apps.automl.engine.metrics import BINARY, REGRESSION
from apps.automl.engine.model import AtelierModel, check_rows

AUTO, TREE, KERNEL, MIXED = "auto", "tree", "kernel", "tree+kernel"
BEESWARM_ROWS = 500
DEFAULT_BACKGROUND = 50
DEFAULT_MAX_ROWS = 1000
# Kernel SHAP costs rows x nsamples x background predictions: a global explanation by kernel explains at most
# KERNEL_MAX_ROWS rows (a seeded sample, stated in n_rows) with at most DEFAULT_NSAMPLES coalitions per row
KERNEL_MAX_ROWS = 200
DEFAULT_NSAMPLES = 512


class ExplainError(ValueError):
    """Input the explainer cannot use; ``field`` names it ("features", "method", "target_class", "rows", ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --------------------------------------------------------------------------------------------------- model access
_FOREST_NAMES = {
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
}
_BOOSTER_NAMES = {
    "LGBMClassifier",
    "LGBMRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
}


def _estimator(obj: Any) -> Any:
    steps = getattr(obj, "steps", None)
    return steps[-1][1] if steps else obj


def _is_tree(est: Any) -> bool:
    name = type(est).__name__
    if name in _FOREST_NAMES:
        return True
    if name in _BOOSTER_NAMES:
        # shap reads histogram gradient boosting's categorical (bitset) splits wrongly: not exact, so not "tree"
        cats = getattr(est, "is_categorical_", None)
        return not (name.startswith("HistGradient") and cats is not None and bool(np.any(cats)))
    return False


@dataclass
class _Target:
    problem_type: str
    n_classes: int  # 0 for regression
    index: int | None  # encoded class explained (None: regression)
    label: Any  # that class as the user wrote it
    output: str  # in words


def _kinds(model: Any, X: pd.DataFrame) -> dict[str, str]:
    if isinstance(model, AtelierModel):
        return {f["name"]: f["kind"] for f in model.features}
    return {
        str(c): NUMERIC
        if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype)
        else CATEGORICAL
        for c in X.columns
    }


def _frame(model: Any, X: Any) -> pd.DataFrame:
    if isinstance(X, list):
        X = pd.DataFrame.from_records(X)
    if not isinstance(X, pd.DataFrame):
        raise ExplainError("rows", "Rows must be a table (a DataFrame or a list of {column: value} objects).")
    if isinstance(model, AtelierModel):
        return check_rows(model, X, allow_extra=True)
    return X


def _target(model: Any, target_class: Any, X: pd.DataFrame | None = None) -> _Target:
    if isinstance(model, AtelierModel):
        if model.problem_type == REGRESSION:
            return _Target(REGRESSION, 0, None, None, f"predicted {model.target}")
        classes = [to_python(c) for c in model.classes]
        if target_class is None:
            if model.problem_type == BINARY:
                index = 1
            else:  # multiclass: the class predicted most often on these rows (the first class without rows)
                index = (
                    int(np.bincount(model.raw(X).argmax(axis=1), minlength=len(classes)).argmax())
                    if X is not None
                    else 0
                )
        else:
            matches = [i for i, c in enumerate(classes) if c == target_class or str(c) == str(target_class)]
            if not matches:
                raise ExplainError(
                    "target_class",
                    f"Unknown class {target_class!r}; the model predicts: {', '.join(map(str, classes))}.",
                )
            index = matches[0]
        return _Target(model.problem_type, len(classes), index, classes[index], f"probability of {classes[index]!r}")
    est = _estimator(model)
    if hasattr(est, "predict_proba") and hasattr(est, "classes_"):
        classes = [to_python(c) for c in est.classes_]
        if target_class is None:
            index = len(classes) - 1
        else:
            matches = [i for i, c in enumerate(classes) if c == target_class or str(c) == str(target_class)]
            if not matches:
                raise ExplainError("target_class", f"Unknown class {target_class!r}.")
            index = matches[0]
        kind = BINARY if len(classes) == 2 else "multiclass"
        return _Target(kind, len(classes), index, classes[index], f"probability of {classes[index]!r}")
    if hasattr(est, "predict") and not callable(getattr(model, "predict_fn", None)):
        return _Target(REGRESSION, 0, None, None, "predicted value")
    return _Target(REGRESSION, 0, None, None, str(getattr(model, "output", "") or "model score"))


def _predict_fn(model: Any, target: _Target) -> Callable[[pd.DataFrame], np.ndarray]:
    """The explained output as a function of rows (already checked against the schema)."""
    if isinstance(model, AtelierModel):
        if target.index is None:
            return lambda X: np.asarray(model.raw(X), dtype=float)
        k = target.index
        return lambda X: np.asarray(model.raw(X), dtype=float)[:, k]
    fn = getattr(model, "predict_fn", None)
    if callable(fn):
        return lambda X: np.asarray(fn(X), dtype=float).reshape(-1)
    if hasattr(model, "predict_proba") and target.index is not None:
        k = target.index
        return lambda X: np.asarray(model.predict_proba(X), dtype=float)[:, k]
    if hasattr(model, "predict"):
        return lambda X: np.asarray(model.predict(X), dtype=float).reshape(-1)
    if callable(model):
        return lambda X: np.asarray(model(X), dtype=float).reshape(-1)
    raise ExplainError("model", "The model must be a Canvas model, a fitted estimator, or have a predict_fn.")


# --------------------------------------------------------------------------------------------------- column origins
def _origins_of_step(step: Any, origins: list[str], width: int | None) -> list[str]:
    """The input column each output column of one transformer step comes from."""
    name = type(step).__name__
    if isinstance(step, str):  # "passthrough"
        return origins
    if name == "Pipeline":
        for _, sub in step.steps:
            origins = _origins_of_step(sub, origins, None)
        return origins
    if name == "DatetimeParts":
        out: list[str] = []
        for c, o in zip(step.columns_, origins, strict=True):
            out += [o] * (6 if step.with_time_[c] else 5)
        return out
    if name == "MedianImputer":
        return origins + [origins[i] for i in step.indicators_]
    if name == "OneHotEncoder":
        synthetic = [f"c{i}" for i in range(len(origins))]
        names = step.get_feature_names_out(synthetic)
        return [origins[int(str(n).split("_", 1)[0][1:])] for n in names]
    if len(set(origins)) == 1:  # one input column (text): every output column is that column's
        n = width if width is not None else _width(step)
        return origins[:1] * n if n is not None else origins
    return origins  # one output per input (converters, scalers, ordinal codes)


def _width(step: Any) -> int | None:
    for attr in ("svd_", "vocabulary_"):
        v = getattr(step, attr, None)
        if attr == "svd_" and v is not None:
            return int(v.n_components)
        if attr == "vocabulary_" and v is not None:
            return len(v)
    return None


def _origin_matrix(pre: Any, features: list[str], n_out: int) -> np.ndarray:
    """(n_out, n_features) 0/1 matrix: transformed column j comes from input feature i."""
    index = {f: i for i, f in enumerate(features)}
    origins: list[str]
    if pre is None:
        origins = list(features)
    else:
        ct = pre.steps[-1][1] if hasattr(pre, "steps") and len(pre.steps) == 1 else pre
        if not hasattr(ct, "transformers_"):
            raise ExplainError("model", f"Cannot map the columns of {type(ct).__name__} back to the inputs.")
        origins = [""] * n_out
        for name, trans, cols in ct.transformers_:
            if name == "remainder" or trans == "drop":
                continue
            sl = ct.output_indices_[name]
            cols_list = [cols] if isinstance(cols, str) else [str(c) for c in cols]
            if sl.stop - sl.start == 0:
                continue
            got = _origins_of_step(trans, cols_list, sl.stop - sl.start)
            if len(got) != sl.stop - sl.start:
                if len(set(cols_list)) != 1:
                    raise ExplainError("model", f"Cannot map the columns of step {name!r} back to the inputs.")
                got = cols_list[:1] * (sl.stop - sl.start)
            origins[sl] = got
    M = np.zeros((n_out, len(features)))
    for j, o in enumerate(origins):
        if o in index:
            M[j, index[o]] = 1.0
    return M


def _dense(X: Any) -> np.ndarray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.asarray(X, dtype=float)


# --------------------------------------------------------------------------------------------------- tree path
def _rescale(phi: np.ndarray, delta_in: np.ndarray, delta_out: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Carry attributions of a change ``delta_in`` to a change ``delta_out`` through a monotone link, each feature
    keeping its share (rescale rule); ``slope`` is the link's derivative, used where the input barely changes."""
    small = np.abs(delta_in) < 1e-12
    factor = np.where(small, slope, delta_out / np.where(small, 1.0, delta_in))
    out = phi * factor[:, None]
    # where the input did not move, whatever change is left (float rounding, other classes in softmax) is shared
    # by the features in proportion to |phi| (equally if all are zero), so the sum is exact
    rest = delta_out - out.sum(axis=1)
    weight = np.abs(out)
    total = weight.sum(axis=1, keepdims=True)
    weight = np.where(total > 0, weight / np.where(total > 0, total, 1.0), 1.0 / max(1, out.shape[1]))
    return out + weight * rest[:, None]


def _class_positions(est: Any, K: int) -> np.ndarray:
    """The encoded class of each of the estimator's outputs (Canvas members: codes 0..K-1; else positions)."""
    raw = np.asarray(est.classes_)
    try:
        codes = raw.astype(int)
    except (TypeError, ValueError):
        return np.arange(len(raw))
    if np.array_equal(codes, raw) and codes.min() >= 0 and codes.max() < K:
        return codes
    return np.arange(len(raw))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _tree_member(pipeline: Any, X: pd.DataFrame, target: _Target, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP for one member, in the explained output's space before the blend: (phi (n, p) over the input
    features, base values over all classes (K,) or a (1,) array for regression)."""
    import shap

    steps = getattr(pipeline, "steps", None)
    pre = pipeline[:-1] if steps and len(steps) > 1 else None
    est = _estimator(pipeline)
    Xt = _dense(pre.transform(X) if pre is not None else X)
    M = _origin_matrix(pre, features, Xt.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.TreeExplainer(est)
        sv = np.asarray(explainer.shap_values(Xt, check_additivity=False), dtype=float)
    ev = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    n = Xt.shape[0]
    if target.index is None:  # regression: raw values
        return (sv.reshape(n, -1) @ M), ev[:1]
    K, k = target.n_classes, target.index
    est_classes = _class_positions(est, K)
    name = type(est).__name__
    if name in _FOREST_NAMES:  # probabilities over the estimator's classes
        sv3 = sv if sv.ndim == 3 else sv[:, :, None]
        base = np.zeros(K)
        phi = np.zeros((n, Xt.shape[1]))
        for j, c in enumerate(est_classes):
            base[int(c)] = ev[j]
            if int(c) == k:
                phi = sv3[:, :, j]
        return phi @ M, base
    # boosters: log-odds (binary: one margin for the estimator's second class) or softmax margins
    if sv.ndim == 2:  # binary
        margin_x = ev[0] + sv.sum(axis=1)
        p_x, p_0 = _sigmoid(margin_x), float(_sigmoid(ev[:1])[0])
        phi = _rescale(sv, margin_x - ev[0], p_x - p_0, np.full(n, p_0 * (1 - p_0)))
        base = np.zeros(K)
        second, first = int(est_classes[-1]), int(est_classes[0])
        base[second], base[first] = p_0, 1.0 - p_0
        if k == second:
            return phi @ M, base
        if k == first:
            return -phi @ M, base
        return np.zeros((n, len(features))), base
    col = list(est_classes).index(k) if k in list(est_classes) else None
    margins_0 = ev
    margins_x = ev[None, :] + sv.sum(axis=1)
    p_x, p_0 = _softmax(margins_x), _softmax(margins_0[None, :])[0]
    base = np.zeros(K)
    base[est_classes] = p_0
    if col is None:
        return np.zeros((n, len(features))), base
    z = sv[:, :, col] - sv.mean(axis=2)  # the class's margin relative to the others'
    slope = np.full(n, p_0[col] * (1 - p_0[col]))
    phi = _rescale(z, z.sum(axis=1), p_x[:, col] - p_0[col], slope)
    return phi @ M, base


def _calibrate(
    model: AtelierModel, phi: np.ndarray, base: np.ndarray, final: np.ndarray, k: int
) -> tuple[np.ndarray, float]:
    """Blend-space attributions (n, p) and base probabilities (K,) carried through temperature and floor."""
    base_final = float(apply_temperature(base[None, :] / base.sum(), model.temperature, model.floor)[0, k])
    blend_x = base[k] + phi.sum(axis=1)
    f = model.floor
    if model.temperature == 1.0:  # affine: exact, no rescaling needed
        return phi * (1.0 - f), base_final
    p0 = base[k] / base.sum()
    pt = base_final
    slope = np.full(len(phi), (1 - f) * pt * (1 - pt) / max(model.temperature * p0 * (1 - p0), 1e-12))
    return _rescale(phi, blend_x - base[k], final - base_final, slope), base_final


# --------------------------------------------------------------------------------------------------- kernel path
class _Codec:
    """Input columns as a float matrix for shap: numbers as they are, anything else as integer codes."""

    def __init__(self, frames: Sequence[pd.DataFrame], columns: list[str], kinds: dict[str, str]) -> None:
        self.columns = columns
        self.dtypes = {c: frames[0][c].dtype for c in columns}
        self.numeric = {
            c: kinds.get(c) == NUMERIC
            and all(
                pd.api.types.is_numeric_dtype(f[c].dtype) and not pd.api.types.is_bool_dtype(f[c].dtype) for f in frames
            )
            for c in columns
        }
        self.levels: dict[str, np.ndarray] = {}
        for c in columns:
            if not self.numeric[c]:
                values = pd.concat([f[c] for f in frames], ignore_index=True).astype(object)
                _, uniques = pd.factorize(values, use_na_sentinel=True)
                self.levels[c] = np.asarray(uniques, dtype=object)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns)))
        for i, c in enumerate(self.columns):
            if self.numeric[c]:
                out[:, i] = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            else:
                codes = pd.Index(self.levels[c]).get_indexer(X[c].astype(object))
                out[:, i] = np.where(codes < 0, np.nan, codes)
        return out

    def decode(self, Z: np.ndarray) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for i, c in enumerate(self.columns):
            col = Z[:, i]
            if self.numeric[c]:
                s = pd.Series(col)
                if pd.api.types.is_integer_dtype(self.dtypes[c]) and not s.isna().any():
                    s = s.round().astype(self.dtypes[c])
                data[c] = s
            else:
                levels = self.levels[c]
                idx = np.nan_to_num(col, nan=-1).astype(int)
                vals = np.where(
                    idx >= 0, levels[np.clip(idx, 0, max(0, len(levels) - 1))] if len(levels) else None, None
                )
                s = pd.Series(vals, dtype=object)
                if not pd.api.types.is_object_dtype(self.dtypes[c]):
                    try:
                        s = s.astype(self.dtypes[c])
                    except (TypeError, ValueError):
                        pass
                data[c] = s
        return pd.DataFrame(data)


def _background_summary(codec: _Codec, background: pd.DataFrame, size: int, seed: int) -> Any:
    import shap

    B = codec.encode(background)
    if len(B) <= size:
        return np.nan_to_num(B, nan=0.0) if not np.isnan(B).any() else B
    filled = B.copy()
    for i in range(B.shape[1]):  # k-means needs numbers everywhere: a missing value stands at the column's median
        col = filled[:, i]
        med = np.nanmedian(col) if np.isfinite(col).any() else 0.0
        col[np.isnan(col)] = med
    rng = np.random.default_rng(seed)
    if len(filled) > 20_000:
        filled = filled[rng.choice(len(filled), 20_000, replace=False)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return shap.kmeans(filled, size)


def _kernel(
    fn: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    background: pd.DataFrame,
    kinds: dict[str, str],
    *,
    background_size: int,
    nsamples: int | None,
    seed: int,
) -> tuple[np.ndarray, float, int, int]:
    """(phi (n, p), expected value, background rows used, samples per row)."""
    import shap

    columns = [str(c) for c in X.columns]
    if len(background) > 20_000:  # the k-means summary needs no more; the codes need not see every row
        background = background.sample(n=20_000, random_state=seed)
    codec = _Codec([X, background], columns, kinds)
    data = _background_summary(codec, background, background_size, seed)
    n_bg = int(data.data.shape[0]) if hasattr(data, "data") else len(data)

    def f(Z: np.ndarray) -> np.ndarray:
        return fn(codec.decode(np.atleast_2d(Z)))

    M = len(columns)
    budget = int(nsamples) if nsamples else DEFAULT_NSAMPLES
    budget = min(budget, 2**M) if M < 30 else budget
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(seed)  # shap's sampler draws from numpy's global generator
        explainer = shap.KernelExplainer(f, data, link="identity")
        sv = explainer.shap_values(codec.encode(X), nsamples=budget, silent=True, l1_reg=False)
    phi = np.asarray(sv, dtype=float).reshape(len(X), M)
    return phi, float(np.asarray(explainer.expected_value).reshape(-1)[0]), n_bg, budget


# --------------------------------------------------------------------------------------------------- core
@dataclass
class _Shap:
    phi: np.ndarray  # (n, p) over the input features
    expected: float
    prediction: np.ndarray  # (n,)
    method: str
    background_size: int
    nsamples: int | None
    features: list[str]


def _typical_background(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    typical = getattr(model, "typical", None)
    if isinstance(model, AtelierModel) and typical:
        row = pd.DataFrame([{c: typical.get(c) for c in X.columns}])
        for c in X.columns:
            if pd.api.types.is_numeric_dtype(X[c].dtype):
                row[c] = pd.to_numeric(row[c], errors="coerce").astype(X[c].dtype, errors="ignore")
        return row
    return X


def _shap(
    model: Any,
    X: pd.DataFrame,
    target: _Target,
    *,
    method: str,
    background: pd.DataFrame | None,
    background_size: int,
    nsamples: int | None,
    seed: int,
) -> _Shap:
    if method not in (AUTO, TREE, KERNEL):
        raise ExplainError("method", f"Unknown method {method!r}; use 'auto', 'tree' or 'kernel'.")
    fn = _predict_fn(model, target)
    features = [str(c) for c in X.columns]
    kinds = _kinds(model, X)
    prediction = fn(X)
    if isinstance(model, AtelierModel):
        members = [m.pipeline for m in model.members]
        weights = [m.weight for m in model.members]
    elif _is_tree(_estimator(model)):
        members, weights = [model], [1.0]
    else:
        members, weights = [], []
    trees = [_is_tree(_estimator(p)) for p in members]
    if method == TREE and not (members and all(trees)):
        raise ExplainError("method", "The tree method needs tree models (forests, LightGBM, gradient boosting).")
    use_tree = method == TREE or (method == AUTO and members and any(trees))
    if background is None and not (isinstance(model, AtelierModel) and model.typical) and not (use_tree and all(trees)):
        raise ExplainError(
            "background",
            "Kernel SHAP compares with background rows: pass some (e.g. a sample of the training data); "
            "this model has no typical values to compare with.",
        )
    bg = background if background is not None else _typical_background(model, X)
    if not use_tree:
        phi, ev, n_bg, budget = _kernel(fn, X, bg, kinds, background_size=background_size, nsamples=nsamples, seed=seed)
        return _Shap(phi, ev, prediction, KERNEL, n_bg, budget, features)
    n, p = len(X), len(features)
    K = target.n_classes
    phi_sum = np.zeros((n, p))
    base_sum = np.zeros(max(K, 1))
    n_bg, budget_used = 0, None
    for pipe, w, is_tree in zip(members, weights, trees, strict=True):
        if is_tree:
            phi_m, base_m = _tree_member(pipe, X, target, features)
        else:  # a non-tree member: Kernel SHAP of its own output, against the background

            def member_out(rows: pd.DataFrame, pipe: Any = pipe) -> np.ndarray:
                raw = predict_raw(pipe, rows, target.problem_type, K)
                return raw if target.index is None else raw[:, target.index]

            phi_m, ev_m, n_bg, budget_used = _kernel(
                member_out, X, bg, kinds, background_size=background_size, nsamples=nsamples, seed=seed
            )
            if target.index is None:
                base_m = np.array([ev_m])
            else:  # only the explained class's base is known; the others share the rest evenly
                base_m = np.full(K, (1.0 - ev_m) / max(1, K - 1))
                base_m[target.index] = ev_m
        phi_sum += w * phi_m
        base_sum += w * base_m
    method_used = TREE if all(trees) else MIXED
    if isinstance(model, AtelierModel) and target.index is not None:
        phi_final, expected = _calibrate(model, phi_sum, base_sum, prediction, target.index)
    else:
        phi_final, expected = phi_sum, float(base_sum[target.index] if target.index is not None else base_sum[0])
    return _Shap(phi_final, expected, prediction, method_used, n_bg, budget_used, features)


def _uses_kernel(model: Any, method: str) -> bool:
    """Whether explaining ``model`` by ``method`` runs Kernel SHAP on any part of it."""
    if method == KERNEL:
        return True
    if isinstance(model, AtelierModel):
        return not all(_is_tree(_estimator(m.pipeline)) for m in model.members)
    return not _is_tree(_estimator(model))


def _sample(X: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    if max_rows is not None and len(X) > max_rows:
        return X.sample(n=max_rows, random_state=seed)
    return X


def shap_values(
    model: Any,
    X: pd.DataFrame,
    *,
    method: str = AUTO,
    target_class: Any = None,
    background: pd.DataFrame | None = None,
    background_size: int = DEFAULT_BACKGROUND,
    nsamples: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Raw attributions for every row of X: ``{"shap": (n, p) array, "expected_value", "prediction": (n,) array,
    "features", "method", "output"}`` (arrays, not JSON; for tests and callers that aggregate themselves)."""
    X = _frame(model, X)
    target = _target(model, target_class, X)
    s = _shap(
        model,
        X,
        target,
        method=method,
        background=background,
        background_size=background_size,
        nsamples=nsamples,
        seed=seed,
    )
    return {
        "shap": s.phi,
        "expected_value": s.expected,
        "prediction": s.prediction,
        "features": s.features,
        "method": s.method,
        "output": target.output,
    }


def explain_global(
    model: Any,
    X: pd.DataFrame,
    *,
    method: str = AUTO,
    target_class: Any = None,
    background: pd.DataFrame | None = None,
    background_size: int = DEFAULT_BACKGROUND,
    nsamples: int | None = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    kernel_max_rows: int | None = KERNEL_MAX_ROWS,
    seed: int = 0,
) -> dict[str, Any]:
    """Global importance: mean |SHAP| per feature over (a sample of at most ``max_rows`` of) X, its spread, and a
    beeswarm sample. The kernel path's background is ``background`` (default: X) summarised by k-means, and it
    explains at most ``kernel_max_rows`` rows (``n_rows`` says how many were explained, ``n_rows_total`` of how
    many)."""
    X = _frame(model, X)
    if len(X) == 0:
        raise ExplainError("rows", "No rows to explain.")
    n_total = len(X)
    full = X
    X = _sample(X, max_rows, seed)
    if _uses_kernel(model, method) and kernel_max_rows is not None:
        X = _sample(X, kernel_max_rows, seed)
    target = _target(model, target_class, X)
    started = time.monotonic()
    s = _shap(
        model,
        X,
        target,
        method=method,
        background=background if background is not None else full,
        background_size=background_size,
        nsamples=nsamples,
        seed=seed,
    )
    mean_abs = np.abs(s.phi).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    features = [s.features[i] for i in order]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(X), BEESWARM_ROWS, replace=False)) if len(X) > BEESWARM_ROWS else np.arange(len(X))
    return {
        "method": s.method,
        "output": target.output,
        "target_class": target.label,
        "expected_value": s.expected,
        "features": features,
        "mean_abs": {f: float(mean_abs[i]) for f, i in zip(features, order, strict=True)},
        "mean": {f: float(s.phi[:, i].mean()) for f, i in zip(features, order, strict=True)},
        "spread": {
            f: {
                "p10": float(np.percentile(s.phi[:, i], 10)),
                "p90": float(np.percentile(s.phi[:, i], 90)),
                "std": float(s.phi[:, i].std()),
            }
            for f, i in zip(features, order, strict=True)
        },
        "n_rows": len(X),
        "n_rows_total": n_total,
        "beeswarm": {
            "features": features,
            "shap": [[float(s.phi[r, i]) for i in order] for r in rows],
            "values": [[to_python(X.iloc[r][f]) for f in features] for r in rows],
        },
        "background_size": s.background_size,
        "nsamples": s.nsamples,
        "seconds": round(time.monotonic() - started, 3),
    }


def explain_row(
    model: Any,
    row: pd.DataFrame | list[dict[str, Any]] | dict[str, Any],
    *,
    method: str = AUTO,
    target_class: Any = None,
    background: pd.DataFrame | None = None,
    background_size: int = DEFAULT_BACKGROUND,
    nsamples: int | None = None,
    top: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Why one prediction: ``{"expected_value", "prediction", "contributions": [{"feature", "value", "shap"}] sorted
    by |shap| desc, "rest": sum of the ones past ``top``}`` — expected_value + sum(shap) + rest == prediction.
    Classification explains ``target_class`` (default: binary the positive class, multiclass the predicted one).
    Without ``background`` the kernel path compares with the model's typical row (one row: exact Shapley values)."""
    if isinstance(row, dict):
        row = [row]
    X = _frame(model, row)
    if len(X) != 1:
        raise ExplainError("rows", f"Send exactly one row to explain (got {len(X)}).")
    if isinstance(model, AtelierModel) and target_class is None and model.problem_type not in (BINARY, REGRESSION):
        target_class = to_python(model.classes[int(model.raw(X).argmax(axis=1)[0])])
    target = _target(model, target_class, X)
    started = time.monotonic()
    s = _shap(
        model,
        X,
        target,
        method=method,
        background=background,
        background_size=background_size,
        nsamples=nsamples,
        seed=seed,
    )
    phi = s.phi[0]
    order = np.argsort(-np.abs(phi), kind="stable")
    contributions = [
        {"feature": s.features[i], "value": to_python(X.iloc[0][s.features[i]]), "shap": float(phi[i])} for i in order
    ]
    rest = 0.0
    if top is not None and len(contributions) > top:
        rest = float(sum(c["shap"] for c in contributions[top:]))
        contributions = contributions[:top]
    return {
        "method": s.method,
        "output": target.output,
        "target_class": target.label,
        "expected_value": s.expected,
        "prediction": float(s.prediction[0]),
        "contributions": contributions,
        "rest": rest,
        "n_features": len(s.features),
        "background_size": s.background_size,
        "nsamples": s.nsamples,
        "seconds": round(time.monotonic() - started, 4),
    }


# --------------------------------------------------------------------------------------------------- partial dependence
def _grid(s: pd.Series, kind: str, size: int) -> tuple[str, list[Any], list[float]]:
    """(data_type, grid values, share of rows per value / bucket)."""
    present = s.dropna()
    if (
        kind == NUMERIC
        and pd.api.types.is_numeric_dtype(present.dtype)
        and not pd.api.types.is_bool_dtype(present.dtype)
    ):
        values = np.sort(present.unique().astype(float))
        if len(values) <= size:
            grid = values
            counts = present.astype(float).value_counts().reindex(values).fillna(0).to_numpy()
        else:  # equal-width buckets over the observed range, each represented by its centre
            lo, hi = float(values[0]), float(values[-1])
            edges = np.linspace(lo, hi, size + 1)
            grid = (edges[:-1] + edges[1:]) / 2
            counts = np.histogram(present.astype(float), bins=edges)[0]
        share = (counts / max(1, len(s))).tolist()
        return "numerical", [float(v) for v in grid], [float(x) for x in share]
    counts = present.value_counts(sort=True).iloc[:size]
    return "categorical", [to_python(v) for v in counts.index], [float(c / max(1, len(s))) for c in counts.to_numpy()]


def _with_value(X: pd.DataFrame, column: str, value: Any) -> pd.DataFrame:
    out = X.copy()
    if pd.api.types.is_integer_dtype(X[column].dtype) and isinstance(value, float) and not value.is_integer():
        out[column] = out[column].astype(float)
    out[column] = value
    return out


def partial_dependence(
    model: Any,
    X: pd.DataFrame,
    *,
    features: Sequence[str],
    grid: int = 20,
    pairs: Sequence[Sequence[str]] = (),
    target_class: Any = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    pair_grid: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Partial dependence (Friedman): for each grid value v of a feature, the mean explained output over the rows
    with that feature set to v. Numeric features: the distinct values if at most ``grid``, else the centres of
    ``grid`` equal-width buckets; categorical: the ``grid`` most frequent values. ``pairs`` adds 2-feature
    interaction surfaces on a ``pair_grid`` × ``pair_grid`` grid."""
    X = _frame(model, X)
    if len(X) == 0:
        raise ExplainError("rows", "No rows for partial dependence.")
    if grid < 2:
        raise ExplainError("grid", "The grid needs at least 2 points.")
    wanted = list(features) + [c for pair in pairs for c in pair]
    unknown = [str(c) for c in wanted if c not in X.columns]
    if unknown:
        raise ExplainError("features", f"Unknown feature(s): {', '.join(unknown)}.")
    bad_pairs = [list(p) for p in pairs if len(p) != 2 or p[0] == p[1]]
    if bad_pairs:
        raise ExplainError("pairs", f"Each pair names two different features (got {bad_pairs[0]}).")
    X = _sample(X, max_rows, seed)
    target = _target(model, target_class, X)
    fn = _predict_fn(model, target)
    kinds = _kinds(model, X)
    n = len(X)
    out: dict[str, Any] = {
        "output": target.output,
        "target_class": target.label,
        "n_rows": n,
        "pdp": [],
        "interactions": [],
    }
    for f in features:
        data_type, values, share = _grid(X[f], kinds.get(f, CATEGORICAL), grid)
        if not values:
            raise ExplainError("features", f"Feature {f!r} has no values to vary.")
        stacked = pd.concat([_with_value(X, f, v) for v in values], ignore_index=True)
        preds = fn(stacked).reshape(len(values), n).mean(axis=1)
        out["pdp"].append(
            {
                "feature_name": f,
                "data_type": data_type,
                "feature_values": values,
                "data_distribution": share,
                "model_predictions": [float(v) for v in preds],
            }
        )
    if pairs:
        Xp = _sample(X, min(n, 500), seed)
        m = len(Xp)
        for a, b in pairs:
            _, va, _ = _grid(Xp[a], kinds.get(a, CATEGORICAL), pair_grid)
            _, vb, _ = _grid(Xp[b], kinds.get(b, CATEGORICAL), pair_grid)
            frames = [_with_value(_with_value(Xp, a, x), b, y) for x in va for y in vb]
            preds = fn(pd.concat(frames, ignore_index=True)).reshape(len(va), len(vb), m).mean(axis=2)
            out["interactions"].append(
                {
                    "features": [a, b],
                    "values_a": va,
                    "values_b": vb,
                    "predictions": [[float(v) for v in r] for r in preds],
                }
            )
    return out


# --------------------------------------------------------------------------------------------------- analysis.json
def sagemaker_explanations(
    global_result: dict[str, Any] | None, pdp_result: dict[str, Any] | None, *, label: str
) -> dict[str, Any]:
    """The analysis.json ``"explanations"`` object as SageMaker Clarify writes it:
    ``{"kernel_shap": {label: {"global_shap_values": {feature: mean |SHAP|}, "expected_value": x}}, "pdp": [...]}``
    with pdp entries ``{feature_name, data_type, feature_values, data_distribution, model_predictions: [[...] per
    label], label_headers: [label]}``. SageMaker only runs Kernel SHAP and only writes ``kernel_shap``; readers
    (SageMaker Model Cards, Studio) look there, so tree results go under the same key: the values mean the same
    thing (mean |SHAP| per feature, the default aggregation), only the estimator differs (said in Atelier's details)."""
    out: dict[str, Any] = {}
    if global_result is not None:
        out["kernel_shap"] = {
            label: {
                "global_shap_values": {f: float(v) for f, v in global_result["mean_abs"].items()},
                "expected_value": float(global_result["expected_value"]),
            }
        }
    if pdp_result is not None:
        out["pdp"] = [
            {
                "feature_name": p["feature_name"],
                "data_type": p["data_type"],
                "feature_values": list(p["feature_values"]),
                "data_distribution": list(p["data_distribution"]),
                "model_predictions": [list(p["model_predictions"])],
                "label_headers": [label],
            }
            for p in pdp_result["pdp"]
        ]
    return out
