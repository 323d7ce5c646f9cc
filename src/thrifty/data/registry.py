"""Which benchmarks exist: the public ones, and any a package registers under the ``thrifty.benchmarks`` entry point.

A package adds a benchmark by naming a :class:`~thrifty.data.problems.Benchmark` in its ``pyproject.toml``::

    [project.entry-points."thrifty.benchmarks"]
    organism = "thrifty.organism:BENCHMARK"

(thrifty's own model organism registers itself this way), or at run time with :func:`register_benchmark`. So
nothing outside a benchmark's own package needs to know it by name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from importlib.metadata import entry_points
from pathlib import Path

from thrifty.data.files import is_data_file, is_hub_id
from thrifty.data.problems import Benchmark, Problem, one_problem_per_id
from thrifty.data.public import BENCHMARKS, hub_alias, load_dataset_problems, load_file
from thrifty.data.rows import DEFAULT_COLUMNS, Columns


logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "thrifty.benchmarks"
NOT_FOUND_HINT = (
    "(or a path to a .jsonl/.json/.parquet file or a datasets.save_to_disk folder, or a Hub dataset id owner/name). "
    "Packages register benchmarks through the thrifty.benchmarks "
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


def _lookup(name: str) -> Benchmark | None:
    if name not in _registered:
        _load_plugins()
    return _registered.get(name)


def get_benchmark(name: str) -> Benchmark | None:
    """The benchmark called ``name`` -- or, for a public benchmark's Hub id (``HuggingFaceH4/MATH-500``), that
    benchmark (its default samples and prompt) -- or None."""
    found = _lookup(name)
    if found is None and (alias := hub_alias(name)) is not None:
        return _lookup(alias)
    return found


def benchmark_names() -> list[str]:
    _load_plugins()
    return list(_registered)


def load_benchmark(
    name: str,
    data_dir: str | os.PathLike | None = None,
    config: str | None = None,
    split: str | None = None,
    columns: Columns = DEFAULT_COLUMNS,
) -> list[Problem]:
    """Load a benchmark as a list of :class:`Problem`.

    Args:
        name (`str`): a registered benchmark (``gsm8k``, ``math500``, ``aime24``, ``amc23``, ``organism`` -- the
            CPU model organism's held-out problems, see :mod:`thrifty.organism` -- or one a package registered);
            a path to your own ``.jsonl`` / ``.json`` / ``.parquet`` file or ``datasets.save_to_disk`` folder (or a
            folder of such files); or a Hugging Face Hub dataset id (``owner/name``). Rows are read as
            :mod:`thrifty.data.rows` says (``problem``/``question``/``prompt``, ``answer`` or a boxed
            ``solution``, optional ``id``, ``level`` and ``oracle_tokens``). A public benchmark's Hub id
            (``HuggingFaceH4/MATH-500``) is that benchmark, read with its parser.
        data_dir (`str`, *optional*): a folder with local copies (e.g. ``../shared/benchmarks``; the file names
            tried are in :data:`thrifty.data.public.FILES`). Without it, a public benchmark is loaded from the
            Hugging Face Hub with :func:`datasets.load_dataset`.
        config (`str`, *optional*): the config of a Hub dataset (``--benchmark_config``).
        split (`str`, *optional*): the split of a Hub dataset or a saved DatasetDict (``--benchmark_split``);
            default ``test``, else the dataset's only split.
        columns (:class:`~thrifty.data.rows.Columns`, *optional*): other column names of the question, answer and
            solution, for files and datasets.

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
    benchmark = _lookup(name)
    if benchmark is None and hub_alias(name) is not None and not (config or split or columns.mapped()):
        return load_benchmark(hub_alias(name), data_dir)  # the very benchmark: local copies in --data_dir too
    if benchmark is not None:
        problems = benchmark.load(None if data_dir is None else str(data_dir))
        return one_problem_per_id(problems, f"benchmark {name!r}")
    if is_data_file(name):
        return load_file(name, columns)
    if Path(name).is_dir() or is_hub_id(name):
        return load_dataset_problems(name, config, split, columns)
    raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(benchmark_names())} {NOT_FOUND_HINT}")


_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")
"""Characters a folder name must not hold: path separators (``\\`` too, for Windows) and control characters."""


def _safe(text: str) -> str:
    """``text`` as one path component: separators and control characters become ``_``, leading dots and spaces
    go (a label can neither leave ``--out`` nor hide there)."""
    return _UNSAFE.sub("_", text).lstrip(". ")


def _label_candidates(name: str, config: str | None, split: str | None) -> list[str]:
    """The readable labels ``name`` may take, shortest first: a registered benchmark only its name; a data file
    its stem, then with its suffix, its folder's name, the whole path; a folder or Hub dataset its last component
    (with ``config`` and ``split`` when given), then with its owner or parent folder. Each is made safe; empty
    ones are left out, except the first."""
    if _lookup(name) is not None:
        return [name]
    path = Path(name)
    if is_data_file(name):
        stem, suffix, parent = path.stem, path.suffix.lstrip("."), path.parent.name
        raw = [stem, f"{stem}_{suffix}"]
        if parent:
            raw += [f"{parent}_{stem}", f"{parent}_{stem}_{suffix}", "_".join([*path.parent.parts, stem, suffix])]
    else:
        tag = "".join(f"_{value}" for value in (config, split) if value)
        parent = path.parent.name
        raw = [path.name + tag] if _lookup(path.name) is None else []  # openai/gsm8k is not the folder of gsm8k
        if parent:
            raw += [f"{parent}_{path.name}{tag}", "_".join([*path.parent.parts, path.name]) + tag]
    first, *rest = [_safe(label) for label in raw] or [""]
    unique = [first] + [label for i, label in enumerate(rest) if label and label not in [first, *rest[:i]]]
    return unique


def benchmark_label(name: str, config: str | None = None, split: str | None = None) -> str:
    """The folder name of a benchmark's results under ``--out``: its name, a data file's stem (``my/set.jsonl``
    -> ``set``), or a folder's or Hub dataset's name (``HuggingFaceH4/MATH-500`` -> ``MATH-500``; with ``config``
    and ``split`` when given: ``_main_train``; ``openai/gsm8k`` -> ``openai_gsm8k``, as ``gsm8k`` is the
    registered benchmark's folder), made one safe path component. :func:`benchmark_labels` tells several apart.

    Path separators and control characters become ``_``, and leading dots and spaces are dropped, so a label can
    neither leave ``--out`` (the stem of ``...jsonl`` is ``..``) nor hide there; normal names are unchanged.

    Raises:
        ValueError: when nothing usable is left (the file's name is all dots and spaces).

    Example:
        >>> benchmark_label("gsm8k"), benchmark_label("my/set.jsonl"), benchmark_label(".hidden.jsonl")
        ('gsm8k', 'set', 'hidden')
        >>> benchmark_label("HuggingFaceH4/MATH-500"), benchmark_label("openai/gsm8k", "main", "train")
        ('MATH-500', 'openai_gsm8k_main_train')
    """
    label = _label_candidates(name, config, split)[0]
    if not label:
        raise ValueError(
            f"benchmark {name!r} gives no usable results folder name ({Path(name).stem!r} would leave or hide in "
            "--out); rename the file to start with a letter or digit, e.g. my_set.jsonl"
        )
    return label


def _same_benchmark(a: str, b: str) -> bool:
    """Whether two names of one command are one benchmark: equal, or one existing file or folder."""
    if a == b:
        return True
    try:
        return Path(a).exists() and Path(b).exists() and Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def benchmark_labels(names: list[str], config: str | None = None, split: str | None = None) -> dict[str, str]:
    """Distinct results folders for the benchmarks of one command: ``{name: label}``.

    Each name keeps its :func:`benchmark_label` unless another name of the command has the same one (ignoring
    case, as some file systems do); the names that clash then take their next longer label until they differ (a
    registered benchmark always keeps its name): ``a.jsonl``, ``a.parquet`` -> ``a_jsonl``, ``a_parquet``;
    ``x/test.jsonl``, ``y/test.jsonl`` -> ``x_test``, ``y_test``. So labels are stable for a given list and
    readable; names with no readable label left (``a.jsonl``, ``A.jsonl``) add a hash of the name.

    Raises:
        ValueError: when a benchmark is listed twice (also as two spellings of one file), or a name gives no
            usable folder name.

    Example:
        >>> list(benchmark_labels(["gsm8k", "x/test.jsonl", "y/test.jsonl", "a.jsonl", "a.parquet"]).values())
        ['gsm8k', 'x_test', 'y_test', 'a_jsonl', 'a_parquet']
    """
    for i, name in enumerate(names):
        twin = next((other for other in names[:i] if _same_benchmark(other, name)), None)
        if twin is not None:
            spelled = f"'{name}' twice" if twin == name else f"one benchmark twice ({twin!r} and {name!r})"
            raise ValueError(f"--benchmark lists {spelled}; list each benchmark once")
        benchmark_label(name, config, split)  # refuses a name without a usable label
    candidates = {name: _label_candidates(name, config, split) for name in names}
    level = dict.fromkeys(names, 0)
    for _ in range(1000):  # each round moves a name on; a clash that cannot move gets the name's hash, so this ends
        labels = {name: candidates[name][level[name]] for name in names}
        holders: dict[str, list[str]] = {}
        for name, label in labels.items():
            holders.setdefault(label.casefold(), []).append(name)
        clashes = [group for group in holders.values() if len(group) > 1]
        if not clashes:
            return labels
        for group in clashes:
            movable = [name for name in group if level[name] < len(candidates[name]) - 1]
            if not movable:  # no readable label left (a.jsonl, A.jsonl): the hash of the name tells them apart
                movable = [name for name in group if _lookup(name) is None]
                for name in movable:
                    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
                    candidates[name].append(f"{candidates[name][-1]}-{digest}")
            for name in movable:
                level[name] += 1
    raise ValueError(f"--benchmark: cannot give {', '.join(map(repr, names))} distinct results folders")
