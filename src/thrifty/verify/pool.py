"""The verifier's worker pool: extraction and equivalence in a few persistent processes, each check bounded in time
and memory.

Never raises on ``str`` responses and never hangs. A response goes to a worker whole, and everything about it runs
there under one budget: extraction (:mod:`~thrifty.verify.extract`; a response may be 100 MB of braces), the length
check (answers longer than :data:`~thrifty.verify.extract.MAX_ANSWER_CHARS` are rejected outright) and equivalence
(:mod:`~thrifty.verify.rules`). The budget is the pool's ``timeout``, enforced by killing the worker (math-verify's
own SIGALRM timeouts are off, see :mod:`~thrifty.verify.rules`; they could not interrupt a long C-level computation
such as ``9^{9^{9^{9^9}}}`` anyway), beside a 4 GiB address-space cap. The calling process only pickles responses.

Verdicts do not depend on timing: a check either finishes and its verdict is reported, or it is reported as not
finished (``Verdict.timed_out``), never as a plain False. A result already sent is read even when this process looks
after the deadline (e.g. because it was busy starting a replacement worker).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import math
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from thrifty.verify.extract import MAX_ANSWER_CHARS, MODES, Mode, clean, extract_answer, gold_text
from thrifty.verify.rules import judge, parses_to_value


VERIFIER_VERSION = 2
"""Bumped whenever a verdict can change for the same answer and gold (2: one time budget, exact paper-compat
numbers), so that stored verdicts are checked again (:mod:`thrifty.eval.harness` records it beside each one)."""

DEFAULT_TIMEOUT = 5.0
"""Hard bound, in seconds, on one verification (extract, parse gold, parse answer, compare): the only time budget."""

_WORKER_MEMORY_BYTES = 4 << 30  # a worker that tries to build a 10^(10^10)-digit integer hits this, not the host


# --------------------------------------------------------------------------------------------- the worker side
def _worker_main(conn) -> None:
    """Serve requests ``(task_id, op, text, gold, mode)`` until the pipe closes (see :func:`_serve`)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_WORKER_MEMORY_BYTES, _WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills the busy workers
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # e.g. its "timeout is disabled" warning
    importlib.import_module("math_verify")  # before saying ready, so deadlines do not include start-up

    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        try:
            _serve(conn, *request)
        except (BrokenPipeError, OSError):
            return


def _serve(conn, task_id: int, op: str, text: str, gold: str | None, mode: str) -> None:
    """Answer one request on ``conn`` with ``(task_id, kind, value)`` messages.

    ``op="judge"``: ``text`` is a whole response; first ``("extracted", answer)`` -- sent before the check, so a
    verdict that times out still shows its answer -- then ``("result", correct)``. ``op="parse"``: ``text`` is an
    answer; ``("result", parses)``. A result of None means the check ran out of memory: not a verdict.
    """
    try:
        if op == "parse":
            conn.send((task_id, "result", parses_to_value(clean(text))))
            return
        answer = extract_answer(text, mode)
        conn.send((task_id, "extracted", answer))
        checkable = answer is not None and 0 < len(answer) <= MAX_ANSWER_CHARS and bool(gold)
        conn.send((task_id, "result", checkable and judge(clean(answer), clean(gold), mode)))
    except MemoryError:
        conn.send((task_id, "result", None))


# --------------------------------------------------------------------------------------------- the pool
@dataclass
class Verdict:
    """Outcome of verifying one response.

    Attributes:
        extracted (`str` or `None`): the final answer the response commits to; None if it has none (or if finding
            it did not finish).
        correct (`bool`): whether that answer is equivalent to the gold one; False if the check did not finish.
        timed_out (`bool`): the check did not finish: it overran the pool's time bound or its memory cap. Such a
            verdict says nothing about the answer; every other one is the check's own, however busy the machine.
    """

    extracted: str | None
    correct: bool
    timed_out: bool = False


_STARTUP_SECONDS = 120.0


class _Worker:
    """One verifier process and its pipe. ``task`` is the request it is working on (None when idle)."""

    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
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
    """A few persistent worker processes that verify answers, each item bounded by ``timeout`` seconds.

    A worker that exceeds the bound is killed and replaced, and that item counts as incorrect and ``timed_out``.

    Args:
        workers (`int`, *optional*): number of worker processes; defaults to ``min(4, os.cpu_count())``.
        timeout (`float`, defaults to `5.0`): hard bound in seconds on one item, extraction included (measured
            from when a worker has received it); the only time budget.

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
            self._workers.append(_Worker(self._ctx))
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
        fresh = _Worker(self._ctx)
        self._workers[self._workers.index(worker)] = fresh
        fresh.wait_ready()

    def _run(self, requests: Sequence[tuple[str, str, str | None, str] | None], progress=None) -> list[Verdict]:
        """Run ``(op, text, gold, mode)`` requests (see :func:`_serve`); one :class:`Verdict` per request, in order.

        A request that is None is answered ``Verdict(None, False)`` without a worker.
        """
        results = [Verdict(None, False) for _ in requests]
        todo = deque(i for i, request in enumerate(requests) if request is not None)
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

    def _drain(self, requests, todo: deque, results: list[Verdict], progress) -> None:
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
            wait([w.conn for w in busy], timeout=max(0.0, next_deadline - time.monotonic()))
            for worker in busy:
                if self._collect(worker, results) and progress is not None:
                    progress.update(1)

    def _collect(self, worker: _Worker, results: list[Verdict]) -> bool:
        """Read what ``worker`` has sent about its item; True if the item is now done (finished or not).

        Messages already sent are read before the deadline is looked at, so a check that finished is never called
        timed out because this process came late. A worker past its deadline, or dead, is replaced and its item
        marked ``timed_out``.
        """
        task = worker.task
        try:
            while worker.task is not None and worker.conn.poll():
                task_id, kind, value = worker.conn.recv()
                if kind == "extracted":
                    results[task_id].extracted = value
                else:
                    results[task_id].correct, results[task_id].timed_out = bool(value), value is None
                    worker.task, worker.deadline = None, math.inf
        except (EOFError, OSError):  # the worker died (e.g. a crash in C code at its memory cap)
            worker.deadline = -math.inf
        if worker.task is None:
            return True
        if time.monotonic() < worker.deadline:
            return False
        results[task].timed_out = True
        self._replace(worker)
        return True

    def verify(
        self,
        responses: Sequence[str],
        golds: Sequence[str | int | float],
        mode: Mode = "math-verify",
        progress: bool = False,
    ) -> list[Verdict]:
        """Verify ``responses[i]`` against ``golds[i]`` for all i; returns one :class:`Verdict` each.

        A response that is not a ``str`` is incorrect. Golds may also be numbers (see
        :func:`~thrifty.verify.extract.gold_text`); a ``bool`` or ``None`` gold raises ``TypeError`` before any
        work.
        """
        if len(responses) != len(golds):
            raise ValueError(f"got {len(responses)} responses but {len(golds)} gold answers")
        _check_mode(mode)
        texts = [gold_text(gold) for gold in golds]
        requests = [
            ("judge", response, gold, mode) if isinstance(response, str) else None
            for response, gold in zip(responses, texts, strict=True)
        ]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(requests), desc="scoring", unit="resp")
        try:
            return self._run(requests, bar)
        finally:
            if bar is not None:
                bar.close()

    def parses(self, answers: Sequence[str]) -> list[bool]:
        """For each answer, whether math-verify parses it to a single sympy value within the time bound."""
        requests = [
            ("parse", a, None, "math-verify") if isinstance(a, str) and 0 < len(a) <= MAX_ANSWER_CHARS else None
            for a in answers
        ]
        return [verdict.correct for verdict in self._run(requests)]


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


def is_correct(response: str, gold: str | int | float, mode: Mode = "math-verify") -> bool:
    """Whether the final answer of ``response`` is equivalent to ``gold``.

    Never raises on a ``str`` response and returns within :data:`DEFAULT_TIMEOUT` seconds (plus, on the first
    call, the start-up of one worker process, and after a timed-out check that of its replacement); a check that
    does not finish in time is False (:meth:`VerifierPool.verify` says which did not). For many responses use
    :func:`verify_batch`.

    Args:
        response (`str`): the model's full response; its last ``\\boxed{...}`` is its answer.
        gold (`str`, `int`, `float`, `Decimal` or `Fraction`): the reference answer (LaTeX or plain text, e.g.
            ``"\\frac{1}{2}"`` or ``"18"``, or a number as read from JSON); a ``bool`` raises ``TypeError``.
        mode (`str`, defaults to ``"math-verify"``): ``"math-verify"`` or ``"paper-compat"`` (module docstring).

    Example:
        >>> is_correct("... so the answer is $\\\\boxed{\\\\dfrac{1}{2}}$.", "0.5")  # doctest: +SKIP
        True
    """
    _check_mode(mode)
    return _default_pool().verify([response], [gold], mode)[0].correct


def verify_batch(
    responses: Sequence[str],
    golds: Sequence[str | int | float],
    mode: Mode = "math-verify",
    workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = False,
) -> list[Verdict]:
    """Verify many responses with a temporary :class:`VerifierPool`; see :meth:`VerifierPool.verify`."""
    with VerifierPool(workers=workers, timeout=timeout) as pool:
        return pool.verify(responses, golds, mode, progress=progress)
