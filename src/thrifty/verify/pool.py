"""The verifier's worker pool: equivalence checks in a few persistent processes, each bounded in time and memory.

Never raises on ``str`` input and never hangs: extraction runs in the calling process in linear time, answers
longer than :data:`~thrifty.verify.extract.MAX_ANSWER_CHARS` are rejected outright, and the symbolic work runs in
worker processes that are killed when they exceed the time bound (math-verify's own SIGALRM timeouts only work in
a main thread, and cannot interrupt a long C-level computation such as ``9^{9^{9^{9^9}}}``).
"""

from __future__ import annotations

import atexit
import importlib
import math
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from thrifty.verify.extract import MAX_ANSWER_CHARS, MODES, Mode, clean, extract_answer
from thrifty.verify.rules import judge, parses_to_value


DEFAULT_TIMEOUT = 5.0
"""Hard bound, in seconds, on one verification (parse gold, parse answer, compare)."""

_WORKER_MEMORY_BYTES = 4 << 30  # a worker that tries to build a 10^(10^10)-digit integer hits this, not the host


def _worker_main(conn, inner_timeout: int) -> None:
    """Serve requests until the pipe closes: (task_id, op, answer, gold, mode) -> (task_id, bool)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_WORKER_MEMORY_BYTES, _WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    import logging

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # timeouts are expected; don't flood stderr
    importlib.import_module("math_verify")  # before saying ready, so deadlines do not include start-up

    conn.send("ready")
    while True:
        try:
            task_id, op, answer, gold, mode = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if op == "parse":
            result = parses_to_value(answer, inner_timeout)
        else:
            result = judge(answer, gold, mode, inner_timeout)
        try:
            conn.send((task_id, result))
        except (BrokenPipeError, OSError):
            return


# --------------------------------------------------------------------------------------------- the pool
@dataclass
class Verdict:
    """Outcome of verifying one response."""

    extracted: str | None
    correct: bool
    timed_out: bool = False


_STARTUP_SECONDS = 120.0


class _Worker:
    """One verifier process and its pipe. ``task`` is the request it is working on (None when idle)."""

    def __init__(self, ctx, inner_timeout: int):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, inner_timeout), daemon=True)
        self.process.start()
        child.close()
        self.task: int | None = None
        self.deadline = math.inf
        self.ready = False

    def wait_ready(self) -> None:
        """Block until the worker has imported math-verify; a worker that cannot start is an error, not a
        stream of silently wrong verdicts."""
        if self.ready:
            return
        try:
            if self.conn.poll(_STARTUP_SECONDS) and self.conn.recv() == "ready":
                self.ready = True
                return
        except (EOFError, OSError):
            pass
        self.kill()
        raise RuntimeError(
            "a verifier worker process failed to start (exit code "
            f"{self.process.exitcode}); if this runs from an interactive or stdin script, put the code under "
            "`if __name__ == '__main__':`"
        )

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class VerifierPool:
    """A few persistent worker processes that verify answers, each call bounded by ``timeout`` seconds.

    A worker that exceeds the bound is killed and replaced, and that item counts as incorrect.

    Args:
        workers (`int`, *optional*): number of worker processes; defaults to ``min(4, os.cpu_count())``.
        timeout (`float`, defaults to `5.0`): hard bound in seconds on one item (measured from when a worker
            starts on it).

    Example:
        >>> with VerifierPool(workers=1) as pool:  # doctest: +SKIP
        ...     [v.correct for v in pool.verify(["\\\\boxed{1/2}", "\\\\boxed{3}"], ["0.5", "4"])]
        [True, False]
    """

    def __init__(self, workers: int | None = None, timeout: float = DEFAULT_TIMEOUT):
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.n_workers = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
        self.timeout = float(timeout)
        # math-verify's own (SIGALRM) timeouts end most slow cases gracefully before the hard kill.
        self._inner_timeout = max(1, int(self.timeout // 3))
        self._ctx = mp.get_context("spawn")  # no fork: the parent may hold torch threads or CUDA state
        self._workers: list[_Worker] = []

    # -- lifecycle
    def _ensure_started(self) -> None:
        alive = [w for w in self._workers if w.process.is_alive()]
        for w in self._workers:
            if w not in alive:
                w.kill()
        self._workers = alive
        while len(self._workers) < self.n_workers:
            self._workers.append(_Worker(self._ctx, self._inner_timeout))
        for worker in self._workers:  # started together above, so their start-ups overlap
            worker.wait_ready()

    def close(self) -> None:
        for worker in self._workers:
            worker.kill()
        self._workers = []

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- work
    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` (hung, dead or over its deadline) and put an idle fresh one in its place."""
        worker.kill()
        fresh = _Worker(self._ctx, self._inner_timeout)
        self._workers[self._workers.index(worker)] = fresh
        fresh.wait_ready()

    def _run(
        self, requests: Sequence[tuple[str, str | None, str | None, str]], progress=None
    ) -> list[tuple[bool, bool]]:
        """Run ``(op, answer, gold, mode)`` requests; returns ``(result, timed_out)`` per request, in order.

        A request whose answer is None is answered False without a worker.
        """
        results: list[tuple[bool, bool]] = [(False, False)] * len(requests)
        todo = deque(i for i, request in enumerate(requests) if request[1] is not None)
        if progress is not None:
            progress.update(len(requests) - len(todo))
        if todo:
            self._ensure_started()
        try:
            self._drain(requests, todo, results, progress)
        finally:  # interrupted (e.g. Ctrl-C): never let a stale answer land in a later call's slot
            for worker in list(self._workers):
                if worker.task is not None:
                    self._replace(worker)
        return results

    def _drain(self, requests, todo: deque, results: list, progress) -> None:
        while True:
            for worker in list(self._workers):  # hand work to idle workers
                if worker.task is None and todo:
                    i = todo.popleft()
                    try:
                        worker.conn.send((i, *requests[i]))
                    except (BrokenPipeError, OSError):
                        todo.appendleft(i)
                        self._replace(worker)
                        continue
                    worker.task, worker.deadline = i, time.monotonic() + self.timeout
            busy = [w for w in self._workers if w.task is not None]
            if not busy:
                if todo:
                    continue  # a send failed and its worker was replaced: hand the work out again
                return
            next_deadline = min(w.deadline for w in busy)
            ready = wait([w.conn for w in busy], timeout=max(0.0, next_deadline - time.monotonic()))
            for worker in busy:
                task = worker.task
                if worker.conn in ready:
                    try:
                        task_id, result = worker.conn.recv()
                        results[task_id] = (bool(result), False)
                        worker.task, worker.deadline = None, math.inf
                    except (EOFError, OSError):  # the worker died (e.g. hit its memory limit): incorrect
                        self._replace(worker)
                elif time.monotonic() >= worker.deadline:
                    results[task] = (False, True)
                    self._replace(worker)
                else:
                    continue
                if progress is not None:
                    progress.update(1)

    def verify(
        self,
        responses: Sequence[str],
        golds: Sequence[str],
        mode: Mode = "math-verify",
        progress: bool = False,
    ) -> list[Verdict]:
        """Verify ``responses[i]`` against ``golds[i]`` for all i; returns one :class:`Verdict` each."""
        if len(responses) != len(golds):
            raise ValueError(f"got {len(responses)} responses but {len(golds)} gold answers")
        _check_mode(mode)
        extracted = [extract_answer(r, mode) if isinstance(r, str) else None for r in responses]
        requests = []
        for answer, gold in zip(extracted, golds, strict=True):
            ok = answer is not None and isinstance(gold, str) and 0 < len(answer) <= MAX_ANSWER_CHARS and gold
            requests.append(("judge", clean(answer), clean(gold), mode) if ok else ("judge", None, None, mode))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(requests), desc="scoring", unit="resp")
        try:
            outcomes = self._run(requests, bar)
        finally:
            if bar is not None:
                bar.close()
        return [Verdict(e, c, t) for e, (c, t) in zip(extracted, outcomes, strict=True)]

    def parses(self, answers: Sequence[str]) -> list[bool]:
        """For each answer, whether math-verify parses it to a single sympy value within the time bound."""
        requests = [
            ("parse", clean(a), None, "math-verify")
            if isinstance(a, str) and 0 < len(a) <= MAX_ANSWER_CHARS
            else ("parse", None, None, "math-verify")
            for a in answers
        ]
        return [ok for ok, _ in self._run(requests)]


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown verifier mode {mode!r}; choose one of {', '.join(MODES)}")


# --------------------------------------------------------------------------------------------- simple API
_shared_pool: VerifierPool | None = None


def _default_pool() -> VerifierPool:
    global _shared_pool
    if _shared_pool is None:
        _shared_pool = VerifierPool(workers=1)
        atexit.register(_shared_pool.close)
    return _shared_pool


def is_correct(response: str, gold: str, mode: Mode = "math-verify") -> bool:
    """Whether the final answer of ``response`` is equivalent to ``gold``.

    Never raises on ``str`` input and returns within :data:`DEFAULT_TIMEOUT` seconds (plus, on the first call,
    the start-up of one worker process). For many responses use :func:`verify_batch`.

    Args:
        response (`str`): the model's full response; its last ``\\boxed{...}`` is its answer.
        gold (`str`): the reference answer (LaTeX or plain text), e.g. ``"\\frac{1}{2}"`` or ``"18"``.
        mode (`str`, defaults to ``"math-verify"``): ``"math-verify"`` or ``"paper-compat"`` (module docstring).

    Example:
        >>> is_correct("... so the answer is $\\\\boxed{\\\\dfrac{1}{2}}$.", "0.5")  # doctest: +SKIP
        True
    """
    _check_mode(mode)
    return _default_pool().verify([response], [gold], mode)[0].correct


def verify_batch(
    responses: Sequence[str],
    golds: Sequence[str],
    mode: Mode = "math-verify",
    workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = False,
) -> list[Verdict]:
    """Verify many responses with a temporary :class:`VerifierPool`; see :meth:`VerifierPool.verify`."""
    with VerifierPool(workers=workers, timeout=timeout) as pool:
        return pool.verify(responses, golds, mode, progress=progress)
