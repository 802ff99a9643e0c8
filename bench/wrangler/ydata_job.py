"""One ydata-profiling run, as its own process: pandas.read_csv, then ProfileReport(minimal=True).to_json().

Prints one JSON line with the phase timings. Run by bench/wrangler/run.py under bench/.venv-peers.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    import pandas as pd
    from ydata_profiling import ProfileReport

    t_import = time.perf_counter()
    frame = pd.read_csv(args.csv)
    t_read = time.perf_counter()
    profile = ProfileReport(frame, minimal=True, progress_bar=False, title="bench")
    text = profile.to_json()
    t_profile = time.perf_counter()
    if args.out:
        args.out.write_text(text)
    print(
        json.dumps(
            {
                "import_s": t_import - t0,
                "read_s": t_read - t_import,
                "profile_s": t_profile - t_read,
                "report_bytes": len(text),
                "rows": len(frame),
            }
        )
    )


if __name__ == "__main__":
    main()
