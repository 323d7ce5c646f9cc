"""Is a model's response correct? Final-answer extraction and time-bounded equivalence.

This module owns one decision: given a response and a gold answer, is the response's final answer
equivalent to the gold one. It knows nothing about models, datasets or metrics.

Two modes:

* ``"math-verify"`` (default): the last ``\\boxed{...}`` of the response is compared with the gold answer by
  Hugging Face's `math-verify <https://github.com/huggingface/Math-Verify>`_ (LaTeX/sympy equivalence).
  A response without a boxed answer is incorrect.
* ``"paper-compat"``: the rules of the paper's official evaluation (Qwen2.5-Math-style answer extraction and
  ``math_equal``): last boxed answer, falling back to "the answer is ..." and then to the last number in the
  text; string match after normalisation; numbers equal within a relative tolerance of 1e-4 (also against
  the gold divided or multiplied by 100, for percentages); otherwise symbolic equivalence (by math-verify
  here, by latex2sympy there). See docs/FIDELITY.md.

Never raises on ``str`` input and never hangs: extraction is a linear scan in the calling process, answers
longer than :data:`MAX_ANSWER_CHARS` are rejected outright, and the symbolic work runs in worker processes that
are killed when they exceed the time bound (math-verify's own SIGALRM timeouts only work in a main thread, and
cannot interrupt a long C-level computation such as ``9^{9^{9^{9^9}}}``).

Batch verification goes through a :class:`VerifierPool` (a few persistent workers, not a process per call).
"""

from __future__ import annotations

import atexit
import math
import multiprocessing as mp
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Iterable, Literal, Sequence

Mode = Literal["math-verify", "paper-compat"]
MODES: tuple[str, ...] = ("math-verify", "paper-compat")

MAX_ANSWER_CHARS = 1000
"""Longest final answer (characters) that is checked at all; MATH500's longest gold answer has 60."""

DEFAULT_TIMEOUT = 5.0
"""Hard bound, in seconds, on one verification (parse gold, parse answer, compare)."""

_WORKER_MEMORY_BYTES = 4 << 30  # a worker that tries to build a 10^(10^10)-digit integer hits this, not the host


# --------------------------------------------------------------------------------------------- extraction
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOXED_SPACE = re.compile(r"\\boxed +([^\s$]+)")  # "\boxed 5" (no braces), as some models write it
_THE_ANSWER_IS = re.compile(r"[Tt]he (?:final )?answer is[:\s]*\$?([^\n$]+?)\$?(?:\.\s|\.$|\n|$)")
_NUMBER = re.compile(r"-?\d*\.?\d+")


def _boxed_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the content of every complete ``\\boxed{...}`` / ``\\fbox{...}``, ordered by start.

    One pass with a stack of open braces and no copying, so 20,000 nested or unterminated boxes cost linear
    time and memory.
    """
    box_opens = {m.end() - 1 for m in _BOXED.finditer(text)}
    if not box_opens:
        return []
    spans: list[tuple[int, int]] = []
    stack: list[int] = []
    for i, char in enumerate(text):
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            start = stack.pop()
            if start in box_opens:
                spans.append((start + 1, i))
    return sorted(spans)


def extract_boxed_answer(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, stripped.

    Nested braces are matched; an unterminated last box falls back to the previous complete one. Linear time.

    Example:
        >>> extract_boxed_answer(r"so $x = \\boxed{\\frac{1}{2}}$. Check: \\boxed{3}")
        '3'
        >>> extract_boxed_answer("no box here") is None
        True
    """
    if not isinstance(text, str):
        return None
    spans = _boxed_spans(text)
    if spans:
        start, end = spans[-1]
        return text[start:end].strip()
    last = None
    for last in _BOXED_SPACE.finditer(text):  # noqa: B007 -- keep the last match
        pass
    return last.group(1) if last else None


def extract_answer(text: str, mode: Mode = "math-verify") -> str | None:
    """The final answer a response commits to, as the given ``mode`` reads it (None if there is none).

    ``math-verify`` reads only the last boxed answer. ``paper-compat`` falls back, as the official evaluation
    does, to "the answer is X" and then to the last number in the text.
    """
    if not isinstance(text, str):
        return None
    boxed = extract_boxed_answer(text)
    if boxed is not None or mode == "math-verify":
        return boxed
    tail = text[-20_000:]  # the fallbacks look at the end of the response only: bounded work on huge inputs
    said = None
    for said in _THE_ANSWER_IS.finditer(tail):  # noqa: B007 -- keep the last match
        pass
    if said:
        return said.group(1).strip()
    numbers = _NUMBER.findall(tail.replace(",", ""))
    return numbers[-1] if numbers else None


def _clean(text: str) -> str:
    """Drop what cannot cross a process boundary or be parsed (lone surrogates, NULs)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


# --------------------------------------------------------------------------------------------- equivalence
# These run inside worker processes (see VerifierPool), where SIGALRM-based timeouts work.


def _math_verify_equal(answer: str, gold: str, inner_timeout: int) -> bool:
    from math_verify import parse, verify

    gold_parsed = parse("\\boxed{" + gold + "}", parsing_timeout=inner_timeout)
    answer_parsed = parse("\\boxed{" + answer + "}", parsing_timeout=inner_timeout)
    if not gold_parsed or not answer_parsed:
        return False
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=inner_timeout))


_STRIP_COMMANDS = re.compile(r"\\(?:left|right|!|,|;|:|displaystyle|mathrm|mbox)(?![a-zA-Z])")
_TEXT_UNIT = re.compile(r"\\text\{\s*[a-zA-Z ]*\}\s*$")


def _normalize(answer: str) -> str:
    """Canonical string of a final answer, in the spirit of the official ``strip_string``."""
    s = answer.strip().replace("\n", "").rstrip(".").strip()
    s = _STRIP_COMMANDS.sub("", s)
    s = s.replace("dfrac", "frac").replace("tfrac", "frac").replace("^\\circ", "").replace("^{\\circ}", "")
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = _TEXT_UNIT.sub("", s) if not s.startswith("\\text") else s
    s = re.sub(r"\\text\{(.*?)\}", r"\1", s)
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)  # "x = 5" -> "5"
    s = s.replace(" ", "")
    if re.fullmatch(r"\.\d+", s):  # ".5" -> "0.5"
        s = "0" + s
    return s


def _as_number(text: str) -> float | None:
    text = text.replace(",", "")
    frac = re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", text)
    try:
        if frac:
            value = float(frac.group(2)) / float(frac.group(3))
            return -value if frac.group(1) else value
        if re.fullmatch(r"-?\d+/\d+", text):
            num, den = text.split("/")
            return float(num) / float(den)
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
            return float(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def _paper_compat_equal(answer: str, gold: str, inner_timeout: int) -> bool:
    a, g = _normalize(answer), _normalize(gold)
    if a == g:
        return True
    a_num, g_num = _as_number(a), _as_number(g)
    if a_num is not None and g_num is not None:
        return any(math.isclose(a_num, ref, rel_tol=1e-4) for ref in (g_num / 100, g_num, g_num * 100))
    return _math_verify_equal(answer, gold, inner_timeout)


def _judge(answer: str, gold: str, mode: str, inner_timeout: int) -> bool:
    """Equivalence of an extracted answer and the gold one; any failure is False."""
    try:
        if mode == "paper-compat":
            return _paper_compat_equal(answer, gold, inner_timeout)
        return _math_verify_equal(answer, gold, inner_timeout)
    except BaseException:  # noqa: BLE001 -- a verifier must never take a run down
        return False


def _parses_to_value(answer: str, inner_timeout: int) -> bool:
    """True if math-verify turns ``answer`` into a sympy value (not just its string fallback)."""
    try:
        from math_verify import parse

        parsed = parse("\\boxed{" + answer + "}", parsing_timeout=inner_timeout)
        return bool(parsed) and not isinstance(parsed[0], str)
    except BaseException:  # noqa: BLE001
        return False


def _worker_main(conn, inner_timeout: int) -> None:
    """Serve requests until the pipe closes: (task_id, op, answer, gold, mode) -> (task_id, bool)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_WORKER_MEMORY_BYTES, _WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    import logging

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # timeouts are expected; don't flood stderr
    import math_verify  # noqa: F401 -- import before saying ready, so deadlines do not include start-up

    conn.send("ready")
    while True:
        try:
            task_id, op, answer, gold, mode = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if op == "parse":
            result = _parses_to_value(answer, inner_timeout)
        else:
            result = _judge(answer, gold, mode, inner_timeout)
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

    def __enter__(self) -> "VerifierPool":
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

    def _run(self, requests: Sequence[tuple[str, str | None, str | None, str]], progress=None) -> list[tuple[bool, bool]]:
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
        for answer, gold in zip(extracted, golds):
            ok = answer is not None and isinstance(gold, str) and 0 < len(answer) <= MAX_ANSWER_CHARS and gold
            requests.append(("judge", _clean(answer), _clean(gold), mode) if ok else ("judge", None, None, mode))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(requests), desc="scoring", unit="resp")
        try:
            outcomes = self._run(requests, bar)
        finally:
            if bar is not None:
                bar.close()
        return [Verdict(e, c, t) for e, (c, t) in zip(extracted, outcomes)]

    def parses(self, answers: Sequence[str]) -> list[bool]:
        """For each answer, whether math-verify parses it to a single sympy value within the time bound."""
        requests = [
            ("parse", _clean(a), None, "math-verify") if isinstance(a, str) and 0 < len(a) <= MAX_ANSWER_CHARS
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


def all_boxed_answers(text: str) -> list[str]:
    """Contents of every complete ``\\boxed{...}`` in ``text``, in order (nested boxes each copied: use on
    trusted text such as dataset solutions; model output goes through :func:`extract_boxed_answer`)."""
    return [text[a:b].strip() for a, b in _boxed_spans(text)] if isinstance(text, str) else []


__all__: Iterable[str] = [
    "MAX_ANSWER_CHARS",
    "MODES",
    "Verdict",
    "VerifierPool",
    "all_boxed_answers",
    "extract_answer",
    "extract_boxed_answer",
    "is_correct",
    "verify_batch",
]
