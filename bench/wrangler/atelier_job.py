"""One Atelier profiling run, as its own process: read the CSV, infer and apply types, profile with a target.

Prints one JSON line with the phase timings. Run by bench/wrangler/run.py under the main venv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv", type=Path)
    parser.add_argument("--target", default="target")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    t0 = time.perf_counter()
    from apps.datasets import inference, profiling, readers

    t_import = time.perf_counter()
    frame = readers.read(args.csv)
    t_read = time.perf_counter()
    schema = inference.infer_schema(frame)
    frame = inference.apply_schema(frame, schema)
    t_types = time.perf_counter()
    report = profiling.profile_dataframe(frame, target=args.target, schema=schema)
    text = json.dumps(report)
    t_profile = time.perf_counter()
    if args.out:
        args.out.write_text(text)
    print(
        json.dumps(
            {
                "import_s": t_import - t0,
                "read_s": t_read - t_import,
                "types_s": t_types - t_read,
                "profile_s": t_profile - t_types,
                "report_bytes": len(text),
                "warnings": len(report["warnings"]),
                "rows": report["summary"]["rows"],
                "sections": report["timings"],
            }
        )
    )


if __name__ == "__main__":
    main()
