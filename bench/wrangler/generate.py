"""Generate the seeded benchmark CSV: N rows x 20 columns of mixed types.

Numeric, integer, categorical (3 / 50 / 1,000 / 100,000 distinct values), boolean, date, timestamp and free-text
columns; 5 % of the cells of every column except ``id`` and ``target`` missing; 1 % of the rows duplicates of
other rows; ``leak`` nearly equals the binary ``target``.

Usage: python bench/wrangler/generate.py OUT.csv [--rows 1000000] [--seed 42]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

WORDS = np.array(
    "data model quality fast slow price order customer great poor service delivery late early product return "
    "refund support happy angry box item size colour fits small large again never always would recommend "
    "package arrived broken working perfect value money time week day month store online app".split()
)


def _words(rng: np.random.Generator, n: int) -> np.ndarray:
    """Free text of 4 to 14 words per row (joined in Python: the only non-vectorised step)."""
    lengths = rng.integers(4, 15, size=n)
    picks = rng.integers(0, len(WORDS), size=int(lengths.sum()))
    words = WORDS[picks].tolist()
    out, pos = [], 0
    for length in lengths.tolist():
        out.append(" ".join(words[pos : pos + length]))
        pos += length
    return np.array(out, dtype=object)


def _labels(prefix: str, codes: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), pa.array(codes).cast(pa.string()), "")


def build_columns(n: int, seed: int) -> dict[str, pa.Array]:
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10.5, 0.6, n), 2)
    score = rng.normal(0, 1, n)
    age = rng.integers(18, 91, n)
    logit = 1.2 * score + 0.02 * (age - 50) + 0.3 * np.log(income / 36_000) - 1.5
    target = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    epoch = np.datetime64("2019-01-01T00:00:00", "s").astype(np.int64)
    seconds = epoch + rng.integers(0, 4 * 365 * 86_400, n)
    return {
        "id": pa.array(np.arange(1, n + 1)),
        "age": pa.array(age),
        "income": pa.array(income),
        "score": pa.array(np.round(score, 6)),
        "balance": pa.array(np.round(income * 0.3 + rng.normal(0, 2_000, n), 2)),
        "n_items": pa.array(rng.poisson(3, n)),
        "rate": pa.array(np.round(rng.random(n), 6)),
        "colour": pa.array(np.array(["red", "green", "blue"])[rng.choice(3, n, p=[0.5, 0.3, 0.2])]),
        "segment": _labels("seg_", rng.integers(0, 50, n)),
        "product": _labels("P", rng.zipf(1.3, n) % 1000),
        "user_key": _labels("u", rng.integers(0, 100_000, n)),
        "member": pa.array(np.where(rng.random(n) < 0.3, "yes", "no")),
        "signup_date": pc.strftime(pa.array(seconds, pa.timestamp("s")), format="%Y-%m-%d"),
        "last_seen": pc.strftime(
            pa.array(seconds + rng.integers(0, 86_400 * 30, n), pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S"
        ),
        "comment": pa.array(_words(rng, n), pa.string()),
        "city": _labels("city_", rng.integers(0, 200, n)),
        "temperature": pa.array(np.round(rng.normal(15, 8, n), 1)),
        "discount": pa.array(np.where(rng.random(n) < 0.7, 0.0, np.round(rng.random(n) * 30, 1))),
        "leak": pa.array(np.round(target + rng.normal(0, 0.05, n), 4)),
        "target": pa.array(target),
    }


def _with_missing(col: pa.Array, rng: np.random.Generator, share: float) -> pa.Array:
    mask = pa.array(rng.random(len(col)) < share)
    return pc.if_else(mask, pa.nulls(len(col), col.type), col)


def build_table(n: int, seed: int = 42, missing: float = 0.05, duplicates: float = 0.01) -> pa.Table:
    rng = np.random.default_rng(seed + 1)
    columns = build_columns(n, seed)
    for name in columns:
        if name not in ("id", "target"):
            columns[name] = _with_missing(columns[name], rng, missing)
    table = pa.table(columns)
    n_dup = int(n * duplicates)
    targets = rng.choice(n, n_dup, replace=False)
    sources = rng.integers(0, n, n_dup)
    order = np.arange(n)
    order[targets] = sources  # each target row becomes a copy of a source row
    return table.take(pa.array(order))


def write_csv(path: Path, n: int, seed: int = 42) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pa_csv.write_csv(build_table(n, seed), tmp)
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    t0 = time.perf_counter()
    write_csv(args.out, args.rows, args.seed)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
