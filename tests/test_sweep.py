"""`thrifty sweep`: one recipe, one trained and evaluated model per α; finished members are skipped."""

import json

import yaml

from helpers import flags
from thrifty.cli import main


def _recipe(path, model_dir):
    path.write_text(
        yaml.safe_dump(
            {
                "model_name_or_path": str(model_dir),
                "output_dir": "ignored",
                "alpha": 0.3,
                "prompts": "organism",
                "prompts_per_level": 8,
                "use_cpu": True,
                "per_device_train_batch_size": 8,
                "steps_per_generation": 2,
                "num_generations": 4,
                "max_completion_length": 8,
                "max_steps": 2,
                "save_steps": 2,
                "report_to": "none",
                "verify_workers": 1,
                "learning_rate": 1e-4,
            }
        )
    )
    return path


def test_sweep_trains_each_alpha_once_and_evaluates(tiny_model_dir, tmp_path, capsys):
    recipe = _recipe(tmp_path / "recipe.yaml", tiny_model_dir)
    options = dict(recipe=recipe, alphas="0,0.2", out=tmp_path / "sweep", limit=3, samples=1, max_new_tokens=5)
    argv = ["sweep", *flags(**options)]
    assert main(argv) == 0
    for alpha in ("0", "0.2"):
        member = tmp_path / "sweep" / f"alpha={alpha}"
        assert json.loads((member / "thrifty_args.json").read_text())["alpha"] == float(alpha)
        summary = json.loads((member / "eval" / "organism" / "summary.json").read_text())
        assert summary["n_problems"] == 3 and summary["mean_tokens"] <= 5
    assert "alpha=0.2" in capsys.readouterr().out

    weights = tmp_path / "sweep" / "alpha=0.2" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert main(argv) == 0  # finished members are skipped
    assert weights.stat().st_mtime_ns == before

    recipe.write_text(recipe.read_text().replace("learning_rate: 0.0001", "learning_rate: 0.0002"))
    assert main(argv) == 0  # another recipe: retrained
    assert weights.stat().st_mtime_ns != before


def test_sweep_errors_are_clear(tmp_path, capsys):
    assert main(["sweep", "--recipe", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["sweep", "--recipe", str(tmp_path / "missing.yaml"), "--alphas", "0,1"]) == 2
    assert "--alphas must be values in [0, 1)" in capsys.readouterr().err
