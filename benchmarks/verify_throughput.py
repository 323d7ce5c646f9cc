"""Verifier speed: verifications per second on MATH500 reference solutions, and the worst time on adversarial input.

    python benchmarks/verify_throughput.py [--data-dir ../shared/benchmarks] [--workers 2] [--repeat 3]

Prints one `name=value` line per figure; the headline (MATH500 verifications per second) comes last.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from thrifty.verify import VerifierPool


ADVERSARIAL = [
    r"\boxed{9^{9^{9^{9^9}}}}",
    r"\boxed{10^{10^{10}}}",
    r"\boxed{(10^{10})!}",
    r"\boxed{" + "{" * 20_000 + "1" + "}" * 20_000 + "}",
    r"\boxed{" * 20_000,
    "x" * 1_000_000 + r"\boxed{7",
    r"\boxed{" + "1+" * 500_000 + "1}",
    "\ud800 \\boxed{\ud800}",
    "",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "benchmarks"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--repeat", type=int, default=1, help="passes over MATH500 (later passes hit math-verify caches)"
    )
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()

    text = (Path(args.data_dir) / "math500.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines()]
    responses, golds = [r["solution"] for r in rows] * args.repeat, [r["answer"] for r in rows] * args.repeat
    with VerifierPool(workers=args.workers, timeout=args.timeout) as pool:
        pool.verify([r"\boxed{1}"] * args.workers, ["1"] * args.workers)  # start-up is not throughput
        worst = 0.0
        for mode in ("math-verify", "paper-compat"):
            for text in ADVERSARIAL:
                started = time.perf_counter()
                assert not pool.verify([text], ["2"], mode)[0].correct
                worst = max(worst, time.perf_counter() - started)
        started = time.perf_counter()
        verdicts = pool.verify(responses, golds)
        elapsed = time.perf_counter() - started
    print(f"math500_correct={sum(v.correct for v in verdicts)}/{len(verdicts)}")
    print(f"workers={args.workers}")
    print(f"timeout_seconds={args.timeout}")
    print(f"adversarial_worst_seconds={worst:.2f}")
    print(f"math500_verifications_per_second={len(verdicts) / elapsed:.1f}")


if __name__ == "__main__":
    main()
