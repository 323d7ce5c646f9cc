"""`thrifty report`: finds every evaluated model under the run folders, knows what each is, and writes the
tables, plots and side-by-side examples."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.report.collect import collect_runs
from thrifty.report.write import ReportArguments, write_report


def _summary(accuracy, tokens, **extra):
    per_level = {
        "1": dict(accuracy=1.0, mean_tokens=tokens / 2),
        "2": dict(accuracy=accuracy, mean_tokens=tokens * 1.5),
    }
    return dict(
        benchmark="organism",
        accuracy=accuracy,
        mean_tokens=tokens,
        mean_tokens_correct=tokens - 1,
        mean_oracle_tokens=20.0,
        oracle_ratio=tokens / 20,
        per_level=per_level,
        **extra,
    )


def _model(folder: Path, summary: dict, files: dict | None = None, bare: bool = False) -> Path:
    """A model folder as the commands leave it: marker files, eval/<benchmark>/{summary,samples}."""
    folder.mkdir(parents=True)
    for name, content in (files or {}).items():
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
    bench = folder / "organism" if bare else folder / "eval" / "organism"
    bench.mkdir(parents=True)
    (bench / "summary.json").write_text(json.dumps(summary))
    tokens = int(summary["mean_tokens"])
    samples = [
        dict(id=f"p{level}", sample=0, level=level, response="x" * tokens, tokens=tokens, finished=True, correct=True)
        for level in (1, 2)
    ]
    (bench / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in samples))
    return folder


def _metrics(alpha):
    return "".join(
        json.dumps({"step": s, "accuracy": 0.8, "tokens/mean": 80 - s * (1 + 10 * alpha)}) + "\n" for s in range(1, 6)
    )


@pytest.fixture()
def runs(tmp_path):
    sweep, baselines = tmp_path / "sweep", tmp_path / "baselines"
    curve = [dict(max_tokens=30, accuracy=0.3, mean_tokens=28.0), dict(max_tokens=80, accuracy=0.75, mean_tokens=75.0)]
    _model(tmp_path / "eval-base", _summary(0.75, 80.0, cutoff_curve=curve), bare=True)
    for alpha, acc, tokens in ((0, 0.9, 60.0), (0.4, 0.8, 40.0)):
        _model(
            sweep / f"alpha={alpha}",
            _summary(acc, tokens),
            {"thrifty_args.json": {"alpha": alpha, "advantage_estimator": "rloo"}, "metrics.jsonl": _metrics(alpha)},
        )
    # written before the estimator registry: advantage_normalization "group" is the grpo estimator
    _model(
        sweep / "alpha=0.4,norm=group",
        _summary(0.3, 10.0),
        {"thrifty_args.json": {"alpha": 0.4, "advantage_normalization": "group"}, "metrics.jsonl": _metrics(0.9)},
    )
    _model(
        baselines / "sft-lr=1e-05",
        _summary(0.7, 50.0),
        {"baseline.json": {"method": "sft", "config": {"learning_rate": 1e-5}}},
    )
    _model(baselines / "cutoff=50", _summary(0.5, 45.0), {"baseline.json": {"method": "cutoff", "max_new_tokens": 50}})
    # the baselines' sampled set is not an evaluation and must not show up as a model
    sampled_set = baselines / "samples" / "train-prompts"
    sampled_set.mkdir(parents=True)
    (sampled_set / "summary.json").write_text(json.dumps(_summary(0.6, 70.0)))
    return [f"base={tmp_path / 'eval-base'}", str(sweep), str(baselines)]


def test_collects_and_classifies_every_model(runs):
    found = collect_runs(runs)
    assert [(r.label(), r.kind) for r in found.values()] == [
        ("base", "base"),
        ("α=0", "family"),
        ("α=0.4", "family"),
        ("α=0.4, group-normalised", "ablation"),
        ("SFT (lr 1e-05)", "sft"),
        ("cutoff 50 tokens", "cutoff"),
    ]
    # NAME=PATH where the path itself holds "=": split where an existing folder follows
    named = collect_runs([f"my=run={runs[1]}/alpha=0"])
    assert list(named) == ["my=run"] and named["my=run"].kind == "family"


def test_report_tables_plots_and_examples(runs, tmp_path):
    path = write_report(ReportArguments(runs=runs, out=str(tmp_path / "report")))
    text = path.read_text()
    assert "| α=0.4 | organism | 0.800 | 40.0 | 39.0 | 2.00 | +5.0 | -50% |" in text  # Δ against the base
    # at SFT's 50 tokens the family (60 tok → 0.9, 40 tok → 0.8) interpolates to 0.85: 15 points better
    assert "| SFT (lr 1e-05) | 50.0 | 0.700 | 0.850 | +15.0 |" in text
    assert "| cutoff at 80 (base samples) | 75.0 | 0.750 | dominated: α=0 has 0.900 with 60 tokens | +15.0 |" in text
    assert "| cutoff at 30 (base samples) | 28.0 | 0.300 | none: shorter than every α (40–60 tokens) | - |" in text
    assert "| α=0.4 | 1.00 / 20 (−50%) | 0.80 / 60 (−50%) |" in text  # per level, saving against the base
    for png in ("pareto_organism.png", "training.png", "ablation.png"):
        assert (tmp_path / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({png})" in text
    examples = text[text.index("## The same problems") :]
    assert examples.count("| α=0.4 | 40 | correct | `" + "x" * 40 + "` |") == 2 and "**p2, level 2**" in examples
    assert "train-prompts" not in text


def test_bad_run_folders_are_clear_errors(tmp_path, runs, capsys):
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        collect_runs([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no evaluation"):
        collect_runs([str(tmp_path / "empty")])
    other = tmp_path / "other"
    _model(other / "alpha=0", _summary(0.5, 50.0), {"thrifty_args.json": {"alpha": 0, "advantage_estimator": "rloo"}})
    with pytest.raises(ValueError, match="name them with NAME=PATH"):
        collect_runs([runs[1], str(other)])
    _model(
        tmp_path / "again" / "sft-rerun",
        _summary(0.6, 40.0),
        {"baseline.json": {"method": "sft", "config": {"learning_rate": 1e-5}}},
    )
    with pytest.raises(ValueError, match="share a label"):  # two SFT runs at one lr: both would be "SFT (lr 1e-05)"
        collect_runs([runs[2], str(tmp_path / "again")])
    named = collect_runs([runs[2], f"SFT again={tmp_path / 'again'}"])  # named: both kept, distinct rows
    assert {r.label() for r in named.values()} >= {"SFT (lr 1e-05)", "SFT again"}
    with pytest.raises(ValueError, match="no run folders given"):
        collect_runs([])
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_cli_takes_run_folders_first(runs, tmp_path, capsys):
    assert main(["report", *runs, "--out", str(tmp_path / "r"), "--title", "my sweep"]) == 0
    assert (tmp_path / "r" / "report.md").read_text().startswith("# my sweep")
    assert "report written to" in capsys.readouterr().out


def test_questions_are_answered_live_by_every_model_with_its_eval_settings(runs, tmp_path, tiny_model_dir):
    config = {"model": str(tiny_model_dir), "prompt_template": "Q: {question}", "max_new_tokens": 5, "backend": "hf"}
    (Path(runs[1]) / "alpha=0" / "eval" / "organism" / "config.json").write_text(json.dumps(config))
    assert main(["report", *runs, "--out", str(tmp_path / "r"), "--questions", "What is 1+1?", "2+2"]) == 0
    text = (tmp_path / "r" / "report.md").read_text()
    live = text[text.index("## Asked live") :]
    assert "**What is 1+1?**" in live and "**2+2**" in live
    # one answer per question, as a table row (short single line) or a block (anything else)
    tokens = [
        int(line.split("|")[2]) if line.startswith("|") else int(line.split("— ")[1].split(" ")[0])
        for line in live.splitlines()
        if line.startswith(("| α=0 |", "*α=0* — "))
    ]
    assert len(tokens) == 2 and all(1 <= t <= 5 for t in tokens)
    assert "α=0.4" not in live  # no evaluation config beside it: not loadable, left out


@pytest.mark.slow
def test_the_report_reads_files_and_never_loads_a_model():
    """Live answers are asked by the caller (thrifty.ask) and handed in: the report's modules import no engine."""
    engines = ("thrifty.generation", "thrifty.ask", "torch", "transformers")
    code = f"import sys, thrifty.report.write; print(sorted(m for m in sys.modules if m.startswith({engines})))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr


def _with_behaviours(table, **extra):
    """A summary whose levels account for behaviours (``table`` = {level: {label: (share, accuracy, tokens)}}, 20
    samples per level), its level and overall figures the mixes of them."""
    per_level = {}
    for level, behaviours in table.items():
        per_level[level] = dict(
            n_samples=20,
            accuracy=sum(s * a for s, a, _ in behaviours.values()),
            mean_tokens=sum(s * t for s, _, t in behaviours.values()),
            behaviours={
                k: dict(share=s, n=round(20 * s), accuracy=a, mean_tokens=t) for k, (s, a, t) in behaviours.items()
            },
        )
    return dict(
        benchmark="organism",
        accuracy=sum(f["accuracy"] for f in per_level.values()) / len(per_level),
        mean_tokens=sum(f["mean_tokens"] for f in per_level.values()) / len(per_level),
        per_level=per_level,
        **extra,
    )


def test_behaviours_and_frontiers_against_the_base_s_skills(tmp_path):
    # the base rarely shortcuts on level 2 (5 samples: too few to count), so only its forced evaluation says
    # what the shortcut is worth there
    base = {
        "1": {"shortcut": (0.5, 0.8, 10.0), "columns+1": (0.5, 1.0, 30.0)},
        "2": {"shortcut": (0.25, 0.1, 12.0), "columns+1": (0.75, 1.0, 60.0)},
    }
    _model(tmp_path / "base", _with_behaviours(base, model="/m/base"))
    # the base forced into the shortcut: the report finds it by its eval settings' response prefix
    forced = {"1": {"shortcut": (1.0, 0.8, 10.0)}, "2": {"shortcut": (1.0, 0.1, 12.0)}}
    folder = _model(tmp_path / "base,forced=shortcut", _with_behaviours(forced, model="/m/base"))
    (folder / "eval" / "organism" / "config.json").write_text(json.dumps({"response_prefix": "~"}))
    trained = {"1": {"shortcut": (1.0, 1.0, 10.0)}, "2": {"columns+0": (1.0, 0.9, 40.0)}}
    _model(tmp_path / "alpha=0.2", _with_behaviours(trained), {"thrifty_args.json": {"alpha": 0.2}})
    # another seed's repeat of the same model (thrifty demo --seeds) is a report of its own, not a clash
    _model(tmp_path / "seed=1" / "alpha=0.2", _with_behaviours(trained), {"thrifty_args.json": {"alpha": 0.2}})

    models = collect_runs([str(tmp_path)])
    assert models["base,forced=shortcut"].kind == "forced" and list(collect_runs([str(tmp_path / "seed=1")])) == [
        "alpha=0.2"
    ]
    text = write_report(ReportArguments(runs=[str(tmp_path)], out=str(tmp_path / "report")), models=models).read_text()
    section = text[text.index("**What the responses did") :]
    # α=0.2 does one thing per level, so it sits on its own frontier. The base's frontier: level 1 mixes the
    # shortcut (0.8, 10 tokens) with column work (1.0, 30), level 2 the forced shortcut (0.1, 12) with column
    # work (1.0, 60); level 2 gains more per token, so at α=0.2's 25 tokens it is funded first
    base_at_25 = 0.5 * 0.8 + 0.5 * (0.1 + (1.0 - 0.1) * (2 * 25 - 10 - 12) / (60 - 12))
    row = f"| α=0.2 | shortcut 100% · 1.00 · 10 | columns+0 100% · 0.90 · 40 | 0.0 | {100 * (base_at_25 - 0.95):.1f} |"
    assert row in section
    assert "| base | shortcut 50% · 0.80 · 10<br>columns+1 50% · 1.00 · 30 | shortcut 25% · 0.10 · 12<br>" in section
    # the forced evaluation shows the shortcut's skill; a forced model has no allocation of its own to measure
    assert "| base,forced=shortcut | shortcut 100% · 0.80 · 10 | shortcut 100% · 0.10 · 12 | - | - |" in section


@pytest.mark.parametrize("content", ["", "{}", "[1, 2]", '{"accuracy": 0.5, "mean_tok'])
def test_an_evaluation_with_an_empty_or_damaged_summary_is_skipped_out_loud(tmp_path, caplog, content):
    _model(tmp_path / "runs" / "good", _summary(0.5, 40.0))
    broken = _model(tmp_path / "runs" / "broken", _summary(0.5, 40.0))
    (broken / "eval" / "organism" / "summary.json").write_text(content)
    (tmp_path / "runs" / "summary.json").write_text(json.dumps({"demo": True}))  # no evaluation's: not reported
    assert list(collect_runs([str(tmp_path / "runs")])) == ["good"]
    assert f"skipping {broken / 'eval' / 'organism' / 'summary.json'}" in caplog.text
    assert "run the same thrifty eval again to rewrite it" in caplog.text
    assert str(tmp_path / "runs" / "summary.json") not in caplog.text


def _rollout_metrics(steps=20, per_rollout=2):
    """A metrics.jsonl as thrifty train writes it: rollout metrics once per rollout, KL and loss every step."""
    rows = []
    for step in range(1, steps + 1):
        row = {"step": step, "loss": 0.01, "kl": 0.001 * step}
        if (step - 1) % per_rollout == 0:
            row.update({"tokens/mean": 80.0 - step, "accuracy": 0.8, "reward": 0.7, "completions/clipped_ratio": 0.0})
        rows.append(row)
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture()
def titles(monkeypatch):
    """The titles and axis limits of every figure the report saves: ``{png name: [(title, xlim, ylim)]}``."""
    from thrifty.report import plots

    seen, save = {}, plots._save

    def recording_save(plt, fig, path, *args, **kwargs):
        seen[path.name] = [(ax.get_title(), ax.get_xlim(), ax.get_ylim()) for ax in fig.axes]
        seen[path.name + ":suptitle"] = fig._suptitle.get_text() if fig._suptitle else ""
        return save(plt, fig, path, *args, **kwargs)

    monkeypatch.setattr(plots, "_save", recording_save)
    return seen


def test_a_training_run_is_reported_before_it_is_evaluated(tmp_path, titles, capsys):
    run = tmp_path / "alpha=0.2"
    run.mkdir()
    (run / "metrics.jsonl").write_text(_rollout_metrics())
    (run / "thrifty_args.json").write_text(json.dumps({"alpha": 0.2, "advantage_estimator": "rloo", "prompts": "x"}))
    config = {"model_name_or_path": "my/base", "temperature": 0.7, "learning_rate": 1e-6, "max_steps": 40}
    config.update(steps_per_generation=2, gradient_accumulation_steps=1, num_generations=8)
    (run / "train_config.json").write_text(json.dumps(config))
    assert main(["report", str(run), "--out", str(tmp_path / "r")]) == 0
    text = (tmp_path / "r" / "report.md").read_text()
    assert "1 model, no evaluation yet." in text and "**Not evaluated yet:** α=0.2" in text
    assert f"thrifty eval --model {run} --benchmark math500 --out {run / 'eval'}" in text
    assert "## Results" not in text and "![training](training.png)" in text
    # how it was trained: from train_config.json and thrifty_args.json; 20 of 40 steps done so far
    assert "| α=0.2 | my/base | RL (PPO) | 0.2 | rloo | 20 of 40 | 1e-06 | 0.7 | 8 | 2 | x |" in text
    assert "sampled at temperature 0.7 (the runs' configs)" in text
    assert "mean of the last 5 rollouts (10 optimizer steps), from rollout 5 on" in text
    panels = [title for title, *_ in titles["training.png"]]
    assert panels == [
        "Rollout length during RL (T = 0.7)",
        "Rollout accuracy during RL (T = 0.7)",
        "Reward during RL",
        "KL to the reference during RL",
        "Truncated responses during RL",
    ]
    assert titles["training.png:suptitle"].startswith("lines: mean of the last 5 rollouts (10 optimizer steps)")
    # a run that has logged nothing yet: reported as not evaluated, with nothing to plot
    started = tmp_path / "started"
    started.mkdir()
    (started / "metrics.jsonl").write_text("")
    (started / "thrifty_args.json").write_text(json.dumps({"alpha": 0.1}))
    assert main(["report", str(started), "--out", str(tmp_path / "r2")]) == 0
    text = (tmp_path / "r2" / "report.md").read_text()
    assert "**Not evaluated yet:** α=0.1" in text and "## Training dynamics" not in text


def test_report_shows_uncertainty_and_how_the_numbers_were_made(tmp_path, titles):
    settings = {"model": "/m/base", "samples": 4, "temperature": 0.6, "top_p": 1.0, "max_new_tokens": 300, "seed": 0}
    curve = [dict(max_tokens=20, accuracy=0.05, mean_tokens=19.0), dict(max_tokens=40, accuracy=0.3, mean_tokens=36.0)]
    base = _model(
        tmp_path / "base",
        _summary(0.90, 69.0, accuracy_se=0.016, mean_tokens_se=2.0, verifier="math-verify", cutoff_curve=curve),
    )
    (base / "eval" / "organism" / "config.json").write_text(json.dumps(settings))
    for alpha, acc, tokens in ((0, 0.988, 47.0), (0.2, 0.994, 40.0)):
        _model(
            tmp_path / f"alpha={alpha}",
            _summary(acc, tokens, accuracy_se=0.0035, mean_tokens_se=1.0, samples_per_problem=4, temperature=0.6),
            {"thrifty_args.json": {"alpha": alpha}, "metrics.jsonl": _rollout_metrics()},
        )
    text = write_report(ReportArguments(runs=[str(tmp_path)], out=str(tmp_path / "r"))).read_text()
    assert "| α=0.2 | organism | 0.994 ± 0.004 | 40.0 ± 1.0 | 39.0 | 2.00 | +9.4 ± 1.6 * | -42% ± 2 * |" in text
    assert "marked * when it exceeds twice its standard error" in text
    how = text[text.index("## How these numbers were made") : text.index("## Accuracy against length")]
    # the base's summary records fewer settings: its config.json gives the rest; unknown ones read "-"
    assert "Same for all: benchmark organism, samples / problem 4, temperature 0.6." in how
    assert "| base | /m/base | 1 | 300 | math-verify | 0 |" in how and "| α=0 | - | - | - | - | - |" in how
    assert "Same for all: method RL (PPO), steps 20." in how  # 20 steps logged so far
    assert "Error bars: ± one standard error" in text and "positive = longer" in text
    # the zoom panel keeps the base (69 tokens, 90 %) in view, with the family
    (_, *_), (zoom_title, (x0, x1), (y0, y1)) = titles["pareto_organism.png"]
    assert zoom_title == "Zoom on the α family and the base (boxed on the left)"
    assert x0 < 40.0 and x1 > 69.0 and y0 < 90.0 and y1 > 99.4


def test_thinking_and_answer_tokens_are_shown_where_an_evaluation_has_them(tmp_path, runs):
    thinker = _summary(0.9, 60.0, mean_thinking_tokens=52.5, mean_thinking_tokens_se=1.5, mean_answer_tokens=7.5)
    thinker["per_level"]["1"].update(mean_thinking_tokens=25.0, mean_answer_tokens=5.0)
    thinker["per_level"]["2"].update(mean_thinking_tokens=80.0, mean_answer_tokens=10.0)
    r1 = _model(tmp_path / "eval-r1", thinker, bare=True)
    plain = _model(tmp_path / "eval-plain", _summary(0.75, 80.0), bare=True)
    text = write_report(ReportArguments(runs=[f"base={plain}", f"R1={r1}"], out=str(tmp_path / "r"))).read_text()
    results = text[text.index("## Results") : text.index("## How these numbers")]
    assert "| mean tokens | thinking tokens | answer tokens | tokens (correct) |" in results
    assert "| R1 | organism | 0.900 | 60.0 | 52.5 ± 1.5 | 7.5 | 59.0 |" in results
    assert "| base | organism | 0.750 | 80.0 | - | - | 79.0 |" in results  # a model that does not think
    assert "up to and including its `</think>`" in results
    by_level = text[text.index("**Thinking and answer by level (organism).**") :]
    assert "| model | level 1 | level 2 |\n|---|---|---|\n| R1 | 25 / 5 | 80 / 10 |\n" in by_level
    # no model thinks: the report is as it was
    plain_text = write_report(ReportArguments(runs=runs, out=str(tmp_path / "plain"))).read_text()
    assert "thinking tokens" not in plain_text and "Thinking and answer" not in plain_text
    assert "</think>" not in plain_text
