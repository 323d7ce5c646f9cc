"""`thrifty generate`: one question, several models, token counts that match the backend's."""

from helpers import flags
from thrifty.cli import main


def test_generate_compares_models_and_counts_tokens(tiny_model_dir, tmp_path, capsys):
    from thrifty.organism.tiny import build_tiny_model

    other = tmp_path / "other"
    build_tiny_model(other, seed=1)
    options = dict(
        model=tiny_model_dir, compare=other, samples=2, max_new_tokens=7, gold=2, prompt_template="organism"
    )
    argv = ["generate", "What is 1+1?", *flags(**options)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Question: What is 1+1?")
    for model in (str(tiny_model_dir), str(other)):
        assert out.count(f"=== {model} · sample") == 2
    headers = [line for line in out.splitlines() if line.startswith("=== ")]
    assert all(", wrong" in h or ", correct" in h for h in headers)
    assert all(int(h.split("· ")[2].split(" tokens")[0]) <= 7 for h in headers)
    assert out.rstrip().splitlines()[-1].startswith(str(other))


def test_generate_result_matches_the_backend(tiny_model_dir):
    from thrifty.ask import GenerateArguments, generate
    from thrifty.data import PAPER_PROMPT_TEMPLATE, build_prompt
    from thrifty.generation import SamplingParams
    from thrifty.generation.hf import HFBackend

    args = GenerateArguments(question="2+3", model=str(tiny_model_dir), samples=2, max_new_tokens=9, seed=5)
    got = generate(args)[str(tiny_model_dir)]
    backend = HFBackend(str(tiny_model_dir))
    want = backend.generate(
        [build_prompt("2+3", backend.tokenizer, PAPER_PROMPT_TEMPLATE)], 2, SamplingParams(0.6, 1.0, 9), seeds=5
    )[0]
    assert [(r["text"], r["tokens"], r["finished"]) for r in got] == [(c.text, c.tokens, c.finished) for c in want]
    assert all(r["correct"] is None for r in got)


def test_generate_needs_a_model(capsys):
    assert main(["generate", "What is 1+1?"]) == 2
    assert "--model is required" in capsys.readouterr().err
