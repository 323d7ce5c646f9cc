"""Which benchmarks exist: the public ones, and any a package registers under the ``thrifty.benchmarks`` entry point.

A package adds a benchmark by naming a :class:`~thrifty.data.problems.Benchmark` in its ``pyproject.toml``::

    [project.entry-points."thrifty.benchmarks"]
    organism = "thrifty.organism:BENCHMARK"

(thrifty's own model organism registers itself this way), or at run time with :func:`register_benchmark`. So
nothing outside a benchmark's own package needs to know it by name.
"""

from __future__ import annotations

import logging
import os
import re
from importlib.metadata import entry_points
from pathlib import Path

from thrifty.data.files import DATA_SUFFIXES
from thrifty.data.problems import Benchmark, Problem, one_problem_per_id
from thrifty.data.public import BENCHMARKS, load_file


logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "thrifty.benchmarks"
NOT_FOUND_HINT = (
    "(or a path to a .jsonl/.json/.parquet file). Packages register benchmarks through the thrifty.benchmarks "
    "entry point, which needs them installed: from a source tree, `pip install -e .` first"
)

_registered: dict[str, Benchmark] = dict(BENCHMARKS)
_plugins_loaded = False


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    """Make ``benchmark`` known by its name (replacing one of that name); returns it."""
    _registered[benchmark.name] = benchmark
    return benchmark


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            benchmark = entry.load()
        except Exception as error:  # one broken plugin must not hide the others
            logger.warning("could not load benchmark %r from %s: %s", entry.name, entry.value, error)
            continue
        if not isinstance(benchmark, Benchmark):
            logger.warning("entry point %s = %s is not a thrifty Benchmark; ignored", entry.name, entry.value)
            continue
        _registered.setdefault(benchmark.name, benchmark)


def get_benchmark(name: str) -> Benchmark | None:
    """The benchmark called ``name``, or None."""
    if name not in _registered:
        _load_plugins()
    return _registered.get(name)


def benchmark_names() -> list[str]:
    _load_plugins()
    return list(_registered)


def load_benchmark(name: str, data_dir: str | os.PathLike | None = None) -> list[Problem]:
    """Load a benchmark as a list of :class:`Problem`.

    Args:
        name (`str`): a registered benchmark (``gsm8k``, ``math500``, ``aime24``, ``amc23``, ``organism`` -- the
            CPU model organism's held-out problems, see :mod:`thrifty.organism` -- or one a package registered);
            or a path to your own ``.jsonl`` / ``.json`` / ``.parquet`` file (fields ``problem``/``question``,
            ``answer`` or a boxed ``solution``, optional ``id``, ``level`` and ``oracle_tokens``).
        data_dir (`str`, *optional*): a folder with local copies (e.g. ``../shared/benchmarks``; the file names
            tried are in :data:`thrifty.data.public.FILES`). Without it, a public benchmark is loaded from the
            Hugging Face Hub with :func:`datasets.load_dataset`.

    Returns:
        `list[Problem]`, in file order, one problem per id. Bad rows are skipped with one warning that names
        their lines; ids that rows of a file or dataset repeat are renamed (``same``, ``same#2``) with one warning
        (:func:`thrifty.data.files.unique_ids`); a benchmark whose code gives one id to two problems is refused
        (:func:`thrifty.data.problems.one_problem_per_id`).

    Example:
        >>> problems = load_benchmark("math500", "../shared/benchmarks")  # doctest: +SKIP
        >>> len(problems), problems[0].gold, problems[0].level  # doctest: +SKIP
        (500, '\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)', 2)
    """
    benchmark = get_benchmark(name)
    if benchmark is not None:
        problems = benchmark.load(None if data_dir is None else str(data_dir))
        return one_problem_per_id(problems, f"benchmark {name!r}")
    if Path(name).suffix in DATA_SUFFIXES:
        return load_file(name)
    raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(benchmark_names())} {NOT_FOUND_HINT}")


_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")
"""Characters a folder name must not hold: path separators (``\\`` too, for Windows) and control characters."""


def benchmark_label(name: str) -> str:
    """The folder name of a benchmark's results under ``--out``: its name, or a data file's stem (``my/set.jsonl``
    -> ``set``), made one safe path component.

    Path separators and control characters become ``_``, and leading dots and spaces are dropped, so a label can
    neither leave ``--out`` (the stem of ``...jsonl`` is ``..``) nor hide there; normal names are unchanged.

    Raises:
        ValueError: when nothing usable is left (the file's name is all dots and spaces).

    Example:
        >>> benchmark_label("gsm8k"), benchmark_label("my/set.jsonl"), benchmark_label(".hidden.jsonl")
        ('gsm8k', 'set', 'hidden')
    """
    stem = name if get_benchmark(name) is not None else Path(name).stem
    label = _UNSAFE.sub("_", stem).lstrip(". ")
    if not label:
        raise ValueError(
            f"benchmark {name!r} gives no usable results folder name ({stem!r} would leave or hide in --out); "
            "rename the file to start with a letter or digit, e.g. my_set.jsonl"
        )
    return label
