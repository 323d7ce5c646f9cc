"""Wall time of the whole `thrifty demo` from a cold cache (build + train + evaluate + report).

    python benchmarks/demo_walltime.py            # ~14 min on 2 CPU cores; the target is <= 15 min

Prints each stage's seconds, the demo's headline results, and last `demo_wall_minutes=...`.
"""

import argparse
import logging
import tempfile
from pathlib import Path

from thrifty.demo import DemoArguments, run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphas", default="0,0.2")
    parser.add_argument("--keep", help="write the demo here instead of a temporary folder")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(options.keep or tmp)
        summary = run_demo(DemoArguments(out=str(out / "demo"), cache_dir=str(out / "cache"), alphas=options.alphas))
    for stage, seconds in summary["stage_seconds"].items():
        print(f"{stage.replace(' ', '_')}_seconds={seconds}")
    for name, m in summary["models"].items():
        print(
            f"{name}: accuracy={m['accuracy']:.3f} mean_tokens={m['mean_tokens']:.1f} "
            f"oracle_ratio={m['oracle_ratio']:.2f}"
        )
    print(f"demo_wall_minutes={summary['wall_seconds'] / 60:.2f}")


if __name__ == "__main__":
    main()
