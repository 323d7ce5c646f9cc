"""Verifier stability under load: the same slow-but-right check, repeated on a busy machine, must give one verdict.

    python benchmarks/verify_stability.py [--busy 2] [--runs 20] [--size 200] [--timeout 5.0]

Starts ``--busy`` processes that spin in a Python loop (default: one per CPU), then checks the set
``\\{size,...,1\\}`` against ``\\{1,...,size\\}`` ``--runs`` times, each in a fresh one-worker pool (so no cached
parse helps; math-verify needs over a second for 200 elements on an idle core). Issue 13: with math-verify's own
1 s alarm, this right answer scored False on 8 of 9 idle runs. Prints one line per run, then one `name=value` line
per figure; the headline (how many runs gave the most common verdict) comes last.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from collections import Counter

from thrifty.verify import DEFAULT_TIMEOUT, VerifierPool


def _spin() -> None:
    """Keep one core busy until killed."""
    while True:
        pass


def reversed_set_check(size: int) -> tuple[str, str]:
    """The response (the set written backwards, boxed) and the gold answer (the set in order)."""
    gold = r"\{" + ",".join(str(i) for i in range(1, size + 1)) + r"\}"
    answer = r"\{" + ",".join(str(i) for i in range(size, 0, -1)) + r"\}"
    return rf"The set is $\boxed{{{answer}}}$.", gold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 1, help="spinning processes (load)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", type=int, default=200, help="elements in the set")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args()

    response, gold = reversed_set_check(args.size)
    ctx = mp.get_context("spawn")
    spinners = [ctx.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for spinner in spinners:
        spinner.start()
    verdicts, seconds = [], []
    try:
        for run in range(1, args.runs + 1):
            with VerifierPool(workers=1, timeout=args.timeout) as pool:
                pool.verify([r"\boxed{1}"], ["1"])  # start-up is not the check
                started = time.perf_counter()
                verdict = pool.verify([response], [gold])[0]
                seconds.append(time.perf_counter() - started)
            verdicts.append((verdict.correct, verdict.timed_out))
            print(f"run={run} correct={verdict.correct} timed_out={verdict.timed_out} seconds={seconds[-1]:.2f}")
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()
    ((common, count),) = Counter(verdicts).most_common(1)
    print(f"busy_processes={args.busy}")
    print(f"cpus={os.cpu_count()}")
    print(f"timeout_seconds={args.timeout}")
    print(f"set_size={args.size}")
    print(f"correct={sum(c for c, _ in verdicts)}/{len(verdicts)}")
    print(f"timed_out={sum(t for _, t in verdicts)}/{len(verdicts)}")
    print(f"wrong_and_not_timed_out={sum(not c and not t for c, t in verdicts)}/{len(verdicts)}")
    print(f"median_seconds={statistics.median(seconds):.2f}")
    print(f"max_seconds={max(seconds):.2f}")
    print(f"most_common_verdict=correct:{common[0]},timed_out:{common[1]}")
    print(f"identical_verdicts={count}/{len(verdicts)}")


if __name__ == "__main__":
    main()
