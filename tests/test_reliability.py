"""Nothing lost, nothing mixed: the failures a hostile user and a flaky machine provoke, each re-run through the CLI.

Concurrent runs into one folder, samples adopted by other settings, junk in resumable files, bad values caught
before any work, and every failure a single line that names the flag or the file (``--debug`` for the traceback).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from helpers import hold_lock
from thrifty import runs
from thrifty.cli import main


def _eval(tmp_path: Path, model: Path, *extra: str, out: Path | None = None) -> list[str]:
    """``thrifty eval`` flags for 2 organism problems x 2 short samples."""
    out = out or tmp_path / "out"
    return ["eval", "--model", str(model), "--benchmark", "organism", "--limit", "2", "--samples", "2"] + [
        "--max_new_tokens",
        "6",
        "--verify_workers",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def _error(capsys, argv: list[str]) -> str:
    """Run the CLI expecting a failure; its one error line (and nothing like a traceback)."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith(f"thrifty {argv[0]}: error: ")]
    assert len(lines) == 1, err
    assert lines[0].endswith("(--debug shows the traceback)")
    return lines[0]


# --------------------------------------------------------------------------------------------- nothing mixed
def test_a_second_run_into_a_held_folder_is_refused_naming_the_holder(tiny_model_dir, tmp_path, capsys):
    holder = hold_lock(tmp_path / "out" / "organism")
    try:
        line = _error(capsys, _eval(tmp_path, tiny_model_dir))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert f"is in use by pid {holder.pid}" in line and "use another output folder" in line
    assert not (tmp_path / "out" / "organism" / runs.SAMPLES).exists()
    assert main(_eval(tmp_path, tiny_model_dir)) == 0  # the killed holder's lock is recovered at once


def test_samples_are_not_adopted_by_another_model_when_config_json_is_gone(tiny_model_dir, tmp_path, capsys):
    other = shutil.copytree(tiny_model_dir, tmp_path / "other-model")
    assert main(_eval(tmp_path, tiny_model_dir)) == 0
    (tmp_path / "out" / "organism" / runs.EVAL_SETTINGS).unlink()
    line = _error(capsys, _eval(tmp_path, other))
    assert "holds samples from different settings (4 of 4 samples carry another settings fingerprint)" in line


def test_an_eval_resume_survives_junk_lines_and_a_damaged_config(tiny_model_dir, tmp_path, caplog):
    """Binary junk, JSON that is no sample, and a config.json of ``[1, 2]``: the resume goes on, adds nothing,
    and ends with exactly the records of the clean run."""
    assert main(_eval(tmp_path, tiny_model_dir)) == 0
    folder = tmp_path / "out" / "organism"
    clean = runs.read_jsonl(folder / runs.SAMPLES)
    with open(folder / runs.SAMPLES, "ab") as handle:
        handle.write(b"\x80\x00\xff junk\n[1, 2]\n" + b'{"foo": 1}\n{"id": "x", "sample": "zero"}\n')
    (folder / runs.EVAL_SETTINGS).write_text("[1, 2]")
    assert main(_eval(tmp_path, tiny_model_dir)) == 0
    assert f"{folder / runs.SAMPLES}: skipping 2 unreadable line(s)" in caplog.text  # not JSON objects
    assert f"{folder / runs.SAMPLES}: skipping 2 malformed or foreign sample record(s)" in caplog.text
    assert f"{folder / runs.EVAL_SETTINGS} holds list, not a JSON object" in caplog.text
    assert runs.read_jsonl(folder / runs.SAMPLES) == clean  # junk dropped by the rewrite, nothing regenerated
    assert json.loads((folder / runs.EVAL_SETTINGS).read_text())["model"] == str(tiny_model_dir)


# --------------------------------------------------------------------------------------------- validated first
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--temperature", "nan"], "--temperature must be a finite number"),
        (["--temperature", "inf"], "--temperature must be a finite number"),
        (["--top_p", "nan"], "--top_p must be a finite number"),
        (["--cutoffs", "abc"], "--cutoffs must be comma-separated token counts, got 'abc'"),
        (["--cutoffs", "0,5"], "--cutoffs must be positive token counts"),
        (["--verify_timeout", "nan"], "--verify_timeout must be a finite number"),
        (["--verify_timeout", "inf"], "--verify_timeout must be a finite number"),
        (["--verify_timeout", "0"], "--verify_timeout must be a finite number > 0"),
        (["--verify_workers", "0"], "--verify_workers must be >= 1, got 0"),
        (["--out", ""], "--out is empty; name a folder"),
        (["--device", "cuda:0"], "--device cuda:0: this machine's torch sees no CUDA device"),
    ],
)
def test_bad_values_are_refused_before_any_work_naming_the_flag(tmp_path, capsys, extra, message):
    if extra[:2] == ["--device", "cuda:0"]:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    line = _error(capsys, _eval(tmp_path, tmp_path / "no-model-needed", *extra))
    assert message in line
    assert not (tmp_path / "out").exists()


def test_a_yaml_recipe_that_is_broken_or_holds_a_list_for_a_number_is_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: m\ntemperature: [0.6\n")
    assert f"--config {broken}: not valid YAML at line 3" in _error(capsys, ["eval", "--config", str(broken)])
    listed = tmp_path / "listed.yaml"
    listed.write_text(f"model: m\nout: {tmp_path / 'out'}\ntemperature: [1, 2]\n")
    assert "--temperature must be float, got [1, 2] (list)" in _error(capsys, ["eval", "--config", str(listed)])
    nested = tmp_path / "nested.yaml"
    nested.write_text("- model: m\n")
    assert "must be a mapping of option: value, got a list" in _error(capsys, ["eval", "--config", str(nested)])


# --------------------------------------------------------------------------------------------- one line each
def test_outputs_that_cannot_be_written_are_one_line(tiny_model_dir, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    line = _error(capsys, _eval(tmp_path, tiny_model_dir, out=a_file))
    assert f"{a_file}" in line and "folder" in line
    line = _error(
        capsys,
        ["train", "--prompts", "organism", "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(a_file)],
    )
    assert f"--output_dir {a_file} is a file, not a folder" in line
    if Path("/sys").is_dir():  # a read-only file system, even for root
        line = _error(capsys, _eval(tmp_path, tiny_model_dir, out=Path("/sys/thrifty-out")))
        assert "cannot use /sys/thrifty-out: Operation not permitted" in line
        assert line.endswith("check it, or choose another output folder (--debug shows the traceback)")


def test_models_that_cannot_load_are_one_line(tiny_model_dir, tmp_path, capsys):
    missing = tmp_path / "runs" / "organism" / "base"
    line = _error(
        capsys,
        ["train", "--prompts", "organism", "--model_name_or_path", str(missing), "--output_dir", str(tmp_path / "t")],
    )
    assert f"--model_name_or_path {missing}: no such file or folder" in line
    assert f"--model {missing}: no such file or folder" in _error(capsys, _eval(tmp_path, missing))
    torn = shutil.copytree(tiny_model_dir, tmp_path / "torn")
    weights = torn / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    line = _error(capsys, _eval(tmp_path, torn))
    assert "model.safetensors cannot be read" in line and "truncated or damaged" in line


def test_a_prompt_and_response_past_the_models_context_are_refused(tiny_model_dir, tmp_path, capsys):
    limit = json.loads((tiny_model_dir / "config.json").read_text())["max_position_embeddings"]
    argv = _eval(tmp_path, tiny_model_dir)
    argv[argv.index("--max_new_tokens") + 1] = str(limit)
    line = _error(capsys, argv)
    assert f"exceeds the model's context of {limit} tokens" in line and "lower --max_new_tokens" in line


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="--verify_workers must be >= 1"):
        main([*_eval(tmp_path, tmp_path / "m", "--verify_workers", "0"), "--debug"])


# --------------------------------------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs (needs root and mount rights: skipped where the machine does not allow it)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_and_the_run_resumes_exactly(tiny_model_dir, tmp_path, small_disk, capsys):
    reference = tmp_path / "reference"
    assert main(_eval(tmp_path, tiny_model_dir, out=reference)) == 0
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last byte
        while True:
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    line = _error(capsys, _eval(tmp_path, tiny_model_dir, out=small_disk / "out"))
    assert "the disk is full" in line and "run the same command again; it resumes" in line
    filler.unlink()
    assert main(_eval(tmp_path, tiny_model_dir, out=small_disk / "out")) == 0
    got = runs.read_jsonl(small_disk / "out" / "organism" / runs.SAMPLES)
    assert got == runs.read_jsonl(reference / "organism" / runs.SAMPLES)


def test_torch_running_out_of_disk_is_one_line(small_disk):
    """Saving a checkpoint onto a full disk fails inside torch's zip writer (``[enforce fail at
    inline_container.cc] ... file write failed``): the CLI says the disk is full, not that."""
    import torch

    from thrifty.cli import error_line

    with pytest.raises(RuntimeError) as raised:
        torch.save(torch.zeros(2_000_000), small_disk / "big.pt")
    assert error_line(raised.value).startswith("writing a checkpoint failed, most likely on a full disk")


def test_a_yaml_int_and_a_flag_float_are_the_same_setting(tmp_path):
    """``temperature: 1`` in YAML is an int, ``--temperature 1`` a float: one fingerprint, so a resume is not
    refused as "other settings"."""
    from thrifty.cli import _parse
    from thrifty.eval import EvalArguments, sample_settings

    recipe = tmp_path / "eval.yaml"
    recipe.write_text("model: m\ntemperature: 1\ntop_p: 1\nrun: 1\n".replace("run: 1\n", ""))
    from_yaml = _parse(EvalArguments, "eval", ["--config", str(recipe)])
    from_flags = _parse(EvalArguments, "eval", ["--model", "m", "--temperature", "1", "--top_p", "1"])
    assert type(from_yaml.temperature) is float and from_yaml.temperature == 1.0
    settings = [sample_settings(a, "organism", 1) for a in (from_yaml, from_flags)]
    assert runs.fingerprint(settings[0]) == runs.fingerprint(settings[1])


def test_transformers_own_debug_option_is_left_to_it(tmp_path, capsys):
    """``thrifty train --debug underflow_overflow`` is TrainingArguments' option, not a request for tracebacks."""
    missing = tmp_path / "no-model"
    argv = [
        "train",
        "--prompts",
        "organism",
        "--model_name_or_path",
        str(missing),
        "--output_dir",
        str(tmp_path / "t"),
    ]
    line = _error(capsys, [*argv, "--debug", "underflow_overflow"])
    assert f"--model_name_or_path {missing}: no such file or folder" in line  # parsed: the option was accepted


def test_stored_verdicts_of_an_older_verifier_are_checked_again(tiny_model_dir, tmp_path):
    assert main(_eval(tmp_path, tiny_model_dir)) == 0
    path = tmp_path / "out" / "organism" / runs.SAMPLES
    records = runs.read_jsonl(path)
    stale = [{**{k: v for k, v in r.items() if k != "verifier_version"}, "correct": True} for r in records]
    runs.write_atomic(path, "".join(json.dumps(r) + "\n" for r in stale))
    assert main(_eval(tmp_path, tiny_model_dir)) == 0
    assert runs.read_jsonl(path) == records  # re-scored: the stale verdicts are gone


def test_model_folders_without_config_json_that_do_load(tmp_path):
    """A GGUF folder named with --gguf_file, and a PEFT adapter folder, are models too."""
    from thrifty.generation.loading import check_model_source

    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "model.Q4.gguf").write_bytes(b"GGUF")
    assert check_model_source(str(tmp_path / "gguf"), gguf_file="model.Q4.gguf") == str(tmp_path / "gguf")
    with pytest.raises(FileNotFoundError, match="--gguf_file other.gguf: no such file"):
        check_model_source(str(tmp_path / "gguf"), gguf_file="other.gguf")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    assert check_model_source(str(tmp_path / "adapter")) == str(tmp_path / "adapter")
    assert check_model_source("org/name") == "org/name"  # a hub id: the Hub's to find
