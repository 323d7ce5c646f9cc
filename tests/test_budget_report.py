"""Inference-time length control in the baselines and the report: `thrifty baseline budget` sweeps budget forcing
over thinking budgets (one resumable evaluation and one baseline.json per budget), and `thrifty report` reads
budget forcing as its own curve and NoThinking / prompt styles as points of their own, compared at matched
length with the α family."""

import json
from pathlib import Path

import pytest

import thrifty.eval.harness as harness
from helpers import flags
from thrifty.cli import main
from thrifty.report import plots
from thrifty.report.collect import collect_runs, live_targets
from thrifty.report.write import ReportArguments, write_report


# --------------------------------------------------------------------------------------------- the sweep
def _sweep(model: Path, out: Path, budgets: str, **extra) -> int:
    options = dict(model=model, benchmark="organism", limit=2, samples=1, max_new_tokens=8, verify_workers=1)
    return main(["baseline", "budget", *flags(**options, budgets=budgets, out=out, **extra)])


def test_the_sweep_evaluates_each_budget_once_and_a_rerun_generates_nothing(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    out = tmp_path / "baselines"
    assert _sweep(tiny_model_dir, out, "4,2") == 0
    printed = capsys.readouterr().out
    assert "budget=2" in printed and "budget=4" in printed and "thinking ended by force" in printed
    assert sorted(p.name for p in out.iterdir()) == ["budget=2", "budget=4"]
    samples = {}
    for budget in (2, 4):
        folder = out / f"budget={budget}"
        assert json.loads((folder / "baseline.json").read_text()) == {
            "method": "budget",
            "model": str(tiny_model_dir),
            "thinking_budget": budget,
        }
        bench = folder / "eval" / "organism"
        summary = json.loads((bench / "summary.json").read_text())
        assert summary["thinking_budget"] == budget and summary["generated_responses"] == 2
        assert json.loads((bench / "config.json").read_text())["thinking_budget"] == budget
        records = [json.loads(line) for line in (bench / "samples.jsonl").read_text().splitlines()]
        # the organism's end of thinking ('>') written as the budget-th token of every response
        assert [r["response"].find(">") for r in records] == [budget - 1] * 2
        assert all(r["forced_end"] for r in records) and summary["forced_end_rate"] == 1.0
        samples[budget] = (bench / "samples.jsonl").read_text()

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded although every sample exists")

    monkeypatch.setattr(harness, "load_backend", no_model)
    assert _sweep(tiny_model_dir, out, "2,4") == 0
    for budget in (2, 4):
        bench = out / f"budget={budget}" / "eval" / "organism"
        assert json.loads((bench / "summary.json").read_text())["generated_responses"] == 0
        assert (bench / "samples.jsonl").read_text() == samples[budget]


def test_the_sweep_refuses_bad_budgets_before_evaluating_anything(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "baselines"
    assert _sweep(tiny_model_dir, out, "0,2") == 2
    assert "--budgets must be positive" in capsys.readouterr().err
    assert _sweep(tiny_model_dir, out, "4", thinking_budget=2) == 2
    assert "--thinking_budget 2 would be replaced by each of --budgets" in capsys.readouterr().err
    assert _sweep(tiny_model_dir, out, "2,8") == 2  # 8 is not below --max_new_tokens 8: found before budget 2 runs
    assert "--thinking_budget 8 must be below --max_new_tokens 8" in capsys.readouterr().err
    assert not out.exists()
    assert main(["baseline", "budget", "--model", str(tiny_model_dir)]) == 2
    assert "--budgets" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- the report
def _summary(accuracy: float, tokens: float, **settings) -> dict:
    return dict(benchmark="organism", model="base-model", accuracy=accuracy, mean_tokens=tokens, **settings)


def _evaluation(folder: Path, summary: dict, files: dict | None = None, config: dict | None = None) -> None:
    """A model folder as the commands leave it: marker files beside eval/organism/{summary,config,samples}."""
    bench = folder / "eval" / "organism"
    bench.mkdir(parents=True)
    for name, content in (files or {}).items():
        (folder / name).write_text(json.dumps(content))
    (bench / "summary.json").write_text(json.dumps(summary))
    (bench / "config.json").write_text(json.dumps({"model": "base-model", "max_new_tokens": 64, **(config or {})}))
    record = dict(id="p1", sample=0, level=1, response="x", tokens=int(summary["mean_tokens"]), correct=True)
    (bench / "samples.jsonl").write_text(json.dumps(record) + "\n")


BUDGETS = {8: (0.40, 12.0), 16: (0.70, 30.0), 32: (0.72, 26.0)}
"""thinking budget -> (accuracy, mean tokens); budget 32's responses shorter than 16's on purpose: the curve still
joins them in order of budget."""


@pytest.fixture()
def inference_runs(tmp_path) -> list[str]:
    """A base, an α family, a budget-forcing sweep and three prompting evaluations (one recorded only in its
    config.json), as `thrifty eval`, `thrifty sweep` and `thrifty baseline budget` leave them."""
    _evaluation(tmp_path / "base", _summary(0.80, 60.0))
    for alpha, accuracy, tokens in ((0, 0.80, 50.0), (0.4, 0.60, 10.0)):
        args = {"alpha": alpha, "advantage_estimator": "rloo"}
        _evaluation(tmp_path / "sweep" / f"alpha={alpha}", _summary(accuracy, tokens), {"thrifty_args.json": args})
    for budget, (accuracy, tokens) in BUDGETS.items():
        marker = {"method": "budget", "model": "base-model", "thinking_budget": budget}
        summary = _summary(accuracy, tokens, thinking_budget=budget, mean_forced_tokens=1.0, forced_end_rate=0.5)
        _evaluation(tmp_path / "baselines" / f"budget={budget}", summary, {"baseline.json": marker})
    _evaluation(tmp_path / "nothinking", _summary(0.30, 5.0, no_thinking=True))
    _evaluation(tmp_path / "cod", _summary(0.65, 20.0), config={"prompt_style": "chain-of-draft"})
    _evaluation(tmp_path / "l1", _summary(0.75, 40.0, prompt_style="l1-exact", prompt_budget=40))
    peer = {"thrifty_args.json": {"alpha": 0.005, "reward": "l1-exact", "advantage_estimator": "rloo"}}
    _evaluation(tmp_path / "l1-peer", _summary(0.79, 45.0, prompt_style="l1-exact", prompt_budget=40), peer)
    _evaluation(tmp_path / "plain", _summary(0.78, 61.0, prompt_style="paper", no_thinking=False))
    folders = ("base", "sweep", "baselines", "nothinking", "cod", "l1", "l1-peer", "plain")
    return [str(tmp_path / name) for name in folders]


def test_budget_and_prompting_runs_are_classified_and_labelled(inference_runs):
    found = collect_runs(inference_runs)
    assert [(r.label(), r.kind) for r in found.values()] == [
        ("base", "base"),
        ("α=0", "family"),
        ("α=0.4", "family"),
        ("budget forcing 8 tokens", "budget"),
        ("budget forcing 16 tokens", "budget"),
        ("budget forcing 32 tokens", "budget"),
        ("Chain of Draft (cod)", "prompting"),  # from its config.json; a plain eval: the model named too
        ("L1 prompt (40 tokens) (l1)", "prompting"),
        ("NoThinking (nothinking)", "prompting"),
        ("l1-peer", "other"),  # a trained L1 model evaluated with its own prompt stays that model
        ("plain", "other"),  # the default settings recorded: nothing inference-time about it
    ]
    assert found["budget=16"].info["thinking_budget"] == 16
    # a live answer would drop the budget or the prompt: those runs are left out of the live questions
    assert set(live_targets(found)) == {"base", "α=0", "α=0.4", "l1-peer", "plain"}


def test_a_bare_evaluation_under_budget_forcing_is_a_budget_run(tmp_path):
    summary = _summary(0.5, 20.0, thinking_budget=16, answer_budget=8, min_thinking=4)
    _evaluation(tmp_path / "forced-by-hand", summary)
    (run,) = collect_runs([str(tmp_path / "forced-by-hand")]).values()
    assert run.kind == "budget"
    assert run.label() == "budget forcing 16 tokens, thinking ≥ 4 tokens, answer ≤ 8 tokens (forced-by-hand)"


def test_the_report_draws_the_budget_curve_and_matches_every_method_at_length(inference_runs, tmp_path, monkeypatch):
    figures = []
    save = plots._save

    def keep(plt, fig, path, *args, **kwargs):
        figures.append((Path(path).name, [(line.get_label(), list(line.get_xdata())) for line in fig.axes[0].lines]))
        figures[-1] += ([text.get_text() for text in fig.axes[0].get_legend().get_texts()],)
        return save(plt, fig, path, *args, **kwargs)

    monkeypatch.setattr(plots, "_save", keep)
    text = write_report(ReportArguments(runs=inference_runs, out=str(tmp_path / "report"))).read_text()

    ((png, lines, legend),) = [f for f in figures if f[0] == "pareto_organism.png"]
    assert {"budget forcing (s1)", "prompting (no training)", "length-penalised RL (α family)"} <= set(legend)
    budget_curve = [xs for label, xs in lines if label == "budget forcing (s1)"]
    assert budget_curve == [[BUDGETS[b][1] for b in (8, 16, 32)]]  # joined in order of budget, not of length
    assert (tmp_path / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # at matched length: the family runs from (10 tok, 0.60) to (50 tok, 0.80), 0.005 per token between them
    matched = text[text.index("**At matched length.**") :]
    assert "| budget forcing 8 tokens | 12.0 | 0.400 | 0.610 | +21.0 |" in matched
    assert "| budget forcing 16 tokens | 30.0 | 0.700 | 0.700 | 0.0 |" in matched
    assert "| Chain of Draft (cod) | 20.0 | 0.650 | 0.650 | 0.0 |" in matched
    assert "| L1 prompt (40 tokens) (l1) | 40.0 | 0.750 | 0.750 | 0.0 |" in matched
    assert "| NoThinking (nothinking) | 5.0 | 0.300 | none: shorter than every α (10–50 tokens) | - |" in matched
    # the results table names each method in words, and how each evaluation was made says what it changed
    assert "| budget forcing 16 tokens | organism | 0.700 |" in text
    assert "| NoThinking (nothinking) | organism | 0.300 |" in text
    made = text[text.index("## How these numbers were made") : text.index("## Accuracy against length")]
    assert "| model | prompt style | prompt budget | NoThinking | thinking budget |" in made
    assert "| budget forcing 16 tokens | - | - | - | 16 |" in made
    assert "| NoThinking (nothinking) | - | - | yes | - |" in made
    assert "| L1 prompt (40 tokens) (l1) | l1-exact | 40 | - | - |" in made
    assert "| plain | - | - | - | - |" in made  # the defaults it recorded are no change
