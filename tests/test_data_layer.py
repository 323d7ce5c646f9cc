"""One data layer for training and evaluation: the same files, folders and Hub datasets work for `thrifty train
--prompts` and `thrifty eval --benchmark`; conversational prompts; column mapping; results folders that never
collide; the organism's --limit; --prompts required."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from helpers import DEEPSEEK_TOKENIZER as TOKENIZER
from helpers import TINY_RL, flags
from thrifty.data import (
    Columns,
    Problem,
    benchmark_label,
    benchmark_labels,
    get_benchmark,
    load_benchmark,
    load_training_prompts,
    problem_key,
    render_prompt,
    training_problems,
)


REPO = Path(__file__).resolve().parents[1]
ROWS = [
    {"problem": "What is 12+30?", "answer": "42"},
    {"question": "What is 2+2?", "gold": 4, "id": "q2"},
    {"problem": "Halve 1.", "solution": r"It is \boxed{\frac{1}{2}}."},
    {"prompt": "What is 3*3?", "final_answer": "9", "level": 2},
]
CONVERSATION = [
    {"role": "system", "content": "Answer in one line."},
    {"role": "user", "content": "What is 12+30?"},
]


class EveryAnswerParses:
    """A stand-in for the verifier pool: every gold parses (the checks under test come before it)."""

    def parses(self, golds):
        return [True] * len(golds)


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def _train(source, **options) -> list[Problem]:
    return load_training_prompts(source, pool=EveryAnswerParses(), **options)[0]


def _seen(problems: list[Problem]) -> list[tuple]:
    return [(p.id, p.question, p.gold, p.level, p.messages) for p in problems]


# ------------------------------------------------------------------ one file for both
def test_a_problem_answer_file_is_trained_on_and_evaluated_as_the_same_problems(tmp_path):
    path = _jsonl(tmp_path / "mine.jsonl", ROWS)
    evaluated = load_benchmark(path)
    assert _seen(evaluated) == [
        ("0", "What is 12+30?", "42", None, None),
        ("q2", "What is 2+2?", "4", None, None),
        ("2", "Halve 1.", r"\frac{1}{2}", None, None),
        ("3", "What is 3*3?", "9", 2, None),
    ]
    assert training_problems(path) == evaluated  # the real verifier parses every gold


def test_the_drop_report_names_the_missing_field_and_the_schemas_once(tmp_path, caplog):
    path = _jsonl(tmp_path / "mine.jsonl", [{"problem": f"{n}+1", "response": str(n + 1)} for n in range(4)])
    with caplog.at_level(logging.INFO, logger="thrifty.data"), pytest.raises(ValueError, match="no usable training"):
        training_problems(path)
    reports = [r.getMessage() for r in caplog.records if "training prompts" in r.getMessage()]
    assert len(reports) == 1  # logged once, not again by training_problems
    report = reports[0]
    assert "kept 0, dropped 4 -- missing field 'answer' / 'gold' / 'final_answer': 4" in report
    assert "a row needs a question in 'problem'/'question'/'prompt'" in report.lower()
    assert "a \\boxed{} answer in 'solution'" in report and "--question_column/--answer_column" in report
    assert "the rows have the columns: problem, response" in report

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="thrifty.data"):
        assert load_benchmark(path) == []
    assert "skipped 4 bad row(s)" in caplog.text and "the rows have the columns: problem, response" in caplog.text


def test_training_keeps_its_own_filters_on_the_shared_rows(tmp_path):
    path = _jsonl(
        tmp_path / "mine.jsonl",
        [
            {"problem": "a", "solution": r"\boxed{1} or \boxed{2}"},
            {"problem": "b", "answer": r"\text{no such number}"},
            {"problem": "c", "answer": "3"},
        ],
    )
    problems, report = load_training_prompts(path, pool=EveryAnswerParses())
    assert [p.question for p in problems] == ["c"]
    assert dict(report.counts) == {"several different boxed answers": 1, "answer is prose": 1}
    assert [p.question for p in load_benchmark(path)] == ["a", "b", "c"]  # evaluation takes the last box, any answer


# ------------------------------------------------------------------ conversational prompts
def test_a_conversational_prompt_is_kept_as_messages_and_its_question_is_the_last_user_turn(tmp_path):
    path = _jsonl(tmp_path / "chat.jsonl", [{"prompt": CONVERSATION, "answer": "42"}])
    (problem,) = load_benchmark(path)
    assert problem.question == "What is 12+30?" and problem.gold == "42"
    assert problem.chat() == CONVERSATION
    assert _train(path) == [problem]
    plain = Problem(problem.id, problem.question, problem.gold)
    assert problem_key(problem) != problem_key(plain) and problem_key(plain) == ["0", "What is 12+30?"]


def test_a_conversation_is_rendered_through_the_real_chat_template_as_its_messages(caplog):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    problem = Problem("0", "What is 12+30?", "42", messages=tuple((m["role"], m["content"]) for m in CONVERSATION))
    with caplog.at_level(logging.INFO, logger="thrifty.data"):
        prompt = render_prompt(problem, tokenizer, "Please reason step by step. Question: {question}")
    assert prompt == tokenizer.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    assert prompt.count("What is 12+30?") == 1 and prompt.count("Answer in one line.") == 1
    assert "{'role'" not in prompt and "Please reason" not in prompt  # no repr, no template around it
    assert "prompt template (--prompt_template) is not applied" in caplog.text
    plain = render_prompt(Problem("1", "What is 2+2?", "4"), tokenizer, "Q: {question}")
    assert "Q: What is 2+2?" in plain  # plain questions still get the template


def test_the_training_dataset_passes_conversations_to_trl_as_messages():
    from thrifty.rl.run import build_dataset

    chat = Problem("c", "What is 12+30?", "42", messages=tuple((m["role"], m["content"]) for m in CONVERSATION))
    rows = list(build_dataset([chat, Problem("p", "2+2", "4")], "Q: {question}"))
    assert rows[0]["prompt"] == CONVERSATION and rows[0]["answer"] == "42"
    assert rows[1]["prompt"] == [{"role": "user", "content": "Q: 2+2"}]


@pytest.mark.parametrize(
    "prompt, why",
    [
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "does not end with a user"),
        ([{"role": "tool", "content": "hi"}], "bad chat message (field 'prompt', message 1: role 'tool'"),
        ([{"role": "user", "content": ["hi"]}], "bad chat message (field 'prompt', message 1: content is not"),
        ([{"role": "user", "content": " "}], "empty question (field 'prompt', message 1)"),
    ],
)
def test_a_malformed_conversation_is_a_bad_row_saying_why(tmp_path, caplog, prompt, why):
    path = _jsonl(tmp_path / "chat.jsonl", [{"prompt": prompt, "answer": "1"}, {"prompt": "ok", "answer": "2"}])
    with caplog.at_level(logging.WARNING, logger="thrifty.data"):
        assert [p.question for p in load_benchmark(path)] == ["ok"]
    assert why in caplog.text


# ------------------------------------------------------------------ column mapping
def test_columns_are_mapped_for_training_and_evaluation(tmp_path):
    from thrifty.args import PromptArguments

    path = _jsonl(tmp_path / "mine.jsonl", [{"query": "1+1", "target": "2"}, {"query": "2+3", "target": 5}])
    columns = Columns(question="query", answer="target")
    evaluated = load_benchmark(path, columns=columns)
    assert [(p.question, p.gold) for p in evaluated] == [("1+1", "2"), ("2+3", "5")]
    assert _train(path, columns=columns) == evaluated
    arguments = PromptArguments(prompts=path, question_column="query", answer_column="target")
    assert arguments.problems() == evaluated

    boxed = _jsonl(tmp_path / "boxed.jsonl", [{"q": "1+1", "work": r"so \boxed{2}"}])
    assert load_benchmark(boxed, columns=Columns(question="q", solution="work"))[0].gold == "2"


def test_a_mapped_column_no_row_has_is_one_error_naming_the_columns(tmp_path):
    path = _jsonl(tmp_path / "mine.jsonl", [{"query": "1+1", "target": "2"}])
    message = "--answer_column 'answer_text': no row of .* has that column; its columns: query, target"
    with pytest.raises(ValueError, match=message):
        load_benchmark(path, columns=Columns(question="query", answer="answer_text"))
    with pytest.raises(ValueError, match=message):
        _train(path, columns=Columns(question="query", answer="answer_text"))


# ------------------------------------------------------------------ save_to_disk folders
def test_a_save_to_disk_dataset_is_read_for_training_and_evaluation(tmp_path):
    from datasets import Dataset

    folder = tmp_path / "mine"
    Dataset.from_list(ROWS[:1] + [{"problem": "Chat?", "answer": "1", "question": None}]).save_to_disk(folder)
    evaluated = load_benchmark(str(folder))
    assert [(p.question, p.gold) for p in evaluated] == [("What is 12+30?", "42"), ("Chat?", "1")]
    assert _train(str(folder)) == evaluated


def test_a_saved_dataset_dict_needs_its_split_test_by_default_for_evaluation(tmp_path):
    from datasets import Dataset, DatasetDict

    folder = tmp_path / "both"
    train, test = [{"problem": "1+1", "answer": "2"}], [{"problem": "5+5", "answer": "10"}]
    DatasetDict(train=Dataset.from_list(train), test=Dataset.from_list(test)).save_to_disk(folder)
    assert [p.question for p in load_benchmark(str(folder))] == ["5+5"]
    assert [p.question for p in load_benchmark(str(folder), split="train")] == ["1+1"]
    assert [p.question for p in _train(str(folder))] == ["1+1"]  # training's default split: train
    with pytest.raises(ValueError, match="has no split 'validation'; its splits: train, test. .*--prompts_split"):
        _train(str(folder), split="validation")

    DatasetDict(train=Dataset.from_list(train), dev=Dataset.from_list(test)).save_to_disk(tmp_path / "no-test")
    with pytest.raises(ValueError, match="has the splits train, dev and no 'test'; choose one with --benchmark_split"):
        load_benchmark(str(tmp_path / "no-test"))


def test_a_folder_of_data_files_is_read_as_a_dataset(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "files"
    _jsonl(folder / "part-0.jsonl", ROWS[:2])
    evaluated = load_benchmark(str(folder))  # load_dataset(folder): one split, train
    assert [(p.question, p.gold) for p in evaluated] == [("What is 12+30?", "42"), ("What is 2+2?", "4")]
    assert _train(str(folder)) == evaluated
    with pytest.raises(ValueError, match="has no split 'test'.*choose one with --prompts_split"):
        _train(str(folder), split="test")


# ------------------------------------------------------------------ Hub datasets (load_dataset monkeypatched)
@pytest.fixture
def hub(monkeypatch, benchmarks_dir):
    """A fake ``datasets.load_dataset``: ``me/set`` (configs ``easy``/``hard``, splits train/test) and the public
    benchmarks' ids (GSM8K's rows from the shared copy); records every call."""
    import datasets

    gsm8k = [json.loads(line) for line in (benchmarks_dir / "gsm8k_test.jsonl").read_text().splitlines()[:4]]
    data = {
        ("me/set", "easy"): {
            "train": [{"problem": "1+1", "answer": "2"}],
            "test": [{"problem": "2+2", "answer": "4"}],
        },
        ("me/set", "hard"): {
            "train": [{"problem": "9*9", "answer": "81"}],
            "test": [{"problem": "7*7", "answer": 49}],
        },
        ("openai/gsm8k", "main"): {"train": gsm8k[:2], "test": gsm8k[2:]},
    }
    calls = []

    def load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        if (path, name) not in data:
            raise ConnectionError("no network")
        splits = {key: datasets.Dataset.from_list(rows) for key, rows in data[(path, name)].items()}
        return splits[split] if split else datasets.DatasetDict(splits)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_a_hub_dataset_is_read_with_its_config_and_split_for_both(hub):
    assert [p.gold for p in load_benchmark("me/set", config="hard")] == ["49"]  # eval's default split: test
    assert hub[-1] == ("me/set", "hard", None)
    assert [p.gold for p in load_benchmark("me/set", config="hard", split="train")] == ["81"]
    assert [p.gold for p in _train("me/set", config="easy")] == ["2"]
    assert hub[-1] == ("me/set", "easy", "train")
    with pytest.raises(FileNotFoundError, match=r"could not load dataset 'me/nothing'.*HF_DATASETS_OFFLINE=1"):
        _train("me/nothing")


def test_a_public_benchmarks_hub_id_is_that_benchmark(hub, benchmarks_dir):
    from thrifty.eval import EvalArguments

    assert load_benchmark("HuggingFaceH4/MATH-500", benchmarks_dir) == load_benchmark("math500", benchmarks_dir)
    assert get_benchmark("HuggingFaceH4/MATH-500") is get_benchmark("math500")
    assert EvalArguments(model="m", benchmark="HuggingFaceH4/MATH-500").samples_for("HuggingFaceH4/MATH-500") == 3
    gsm8k = load_benchmark("gsm8k", benchmarks_dir)
    tested = load_benchmark("openai/gsm8k", split="test")  # GSM8K's parser: the gold after ####
    assert [(p.question, p.gold) for p in tested] == [(p.question, p.gold) for p in gsm8k[2:4]]
    assert hub[-1] == ("openai/gsm8k", "main", "test")  # its config by default
    trained = _train("openai/gsm8k")
    assert [p.gold for p in trained] == [p.gold for p in gsm8k[:2]] and hub[-1] == ("openai/gsm8k", "main", "train")


# ------------------------------------------------------------------ results folders
@pytest.mark.parametrize(
    "names, labels",
    [
        (["a.jsonl", "a.parquet"], ["a_jsonl", "a_parquet"]),
        (["x/test.jsonl", "y/test.jsonl"], ["x_test", "y_test"]),
        (["gsm8k", "data/gsm8k.jsonl", "my/set.jsonl"], ["gsm8k", "gsm8k_jsonl", "set"]),
        (["Set.jsonl", "set.parquet", "organism"], ["Set_jsonl", "set_parquet", "organism"]),
        (["test.jsonl", "x/test.jsonl"], ["test_jsonl", "x_test"]),
        (["a.jsonl", "A.jsonl"], ["a_jsonl-", "A_jsonl-"]),
        (["HuggingFaceH4/MATH-500", "math500", "openai/gsm8k"], ["MATH-500", "math500", "openai_gsm8k"]),
        (["me/set", "you/set"], ["me_set", "you_set"]),
    ],
)
def test_benchmarks_of_one_command_get_distinct_readable_folders(names, labels):
    got = list(benchmark_labels(names).values())
    assert len({label.casefold() for label in got}) == len(names)
    for label, wanted in zip(got, labels, strict=True):
        assert label.startswith(wanted) if wanted.endswith("-") else label == wanted
    assert [benchmark_labels([name])[name] for name in names] == [benchmark_label(name) for name in names]


def test_a_hub_datasets_label_says_its_config_and_split_when_given():
    assert benchmark_label("me/set") == "set" and benchmark_label("me/set", "hard", "train") == "set_hard_train"
    assert benchmark_label("gsm8k", "main", "train") == "gsm8k"  # a registered benchmark is its name


def test_a_benchmark_listed_twice_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _jsonl(tmp_path / "a.jsonl", ROWS)
    with pytest.raises(ValueError, match="--benchmark lists 'gsm8k' twice; list each benchmark once"):
        benchmark_labels(["gsm8k", "math500", "gsm8k"])
    with pytest.raises(ValueError, match=r"one benchmark twice \('a.jsonl' and './a.jsonl'\)"):
        benchmark_labels(["a.jsonl", "./a.jsonl"])


# ------------------------------------------------------------------ the organism and --prompts
def test_any_first_n_organism_problems_cover_the_levels_alike():
    problems = load_benchmark("organism")
    assert [p.level for p in problems[:8]] == [1, 2, 3, 4, 1, 2, 3, 4]
    for n in range(1, 201):
        counts = [sum(p.level == level for p in problems[:n]) for level in (1, 2, 3, 4)]
        assert max(counts) - min(counts) <= 1
    assert [sum(p.level == level for p in problems) for level in (1, 2, 3, 4)] == [50, 100, 100, 100]


def test_prompts_are_required_and_every_organism_recipe_names_them():
    from thrifty.args import PromptArguments
    from thrifty.baselines.finetune import BaselineArguments
    from thrifty.rl import ThriftyArguments

    for make in (PromptArguments, ThriftyArguments, lambda: BaselineArguments(model="m")):
        with pytest.raises(ValueError, match="--prompts is required: a data file, .*a hub dataset id, or organism"):
            make()
    recipes = sorted((REPO / "src" / "thrifty" / "organism" / "recipes").glob("*.yaml"))
    assert recipes and all(yaml.safe_load(r.read_text())["prompts"] == "organism" for r in recipes)
    gpu = sorted((REPO / "recipes").glob("deepseek-r1-distill-qwen-*/*.yaml"))
    assert gpu and all(yaml.safe_load(r.read_text())["prompts"] for r in gpu)


# ------------------------------------------------------------------ end to end
TRAIN_ROWS = [
    {"problem": "1+2", "answer": "3"},
    {"question": "3+4", "answer": 7},
    {"prompt": [{"role": "user", "content": "2+2"}], "answer": "4"},
    {"prompt": [{"role": "system", "content": "add"}, {"role": "user", "content": "4+4"}], "final_answer": "8"},
]
"""Four prompts, two of them conversational: one rollout of the toy recipe (4 prompts x 4 responses) takes all."""


@pytest.mark.slow
def test_thrifty_train_and_eval_on_one_problem_answer_file(tiny_model_dir, tmp_path):
    from thrifty.cli import main
    from thrifty.runs import METRICS, read_jsonl

    data = _jsonl(tmp_path / "x" / "test.jsonl", TRAIN_ROWS)
    options = {**TINY_RL, "prompts": data, "model_name_or_path": tiny_model_dir, "output_dir": tmp_path / "run"}
    argv = ["train", *flags(**options, max_steps=2, max_completion_length=8, save_strategy="no")]
    assert main(argv) == 0
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert any("accuracy" in record for record in read_jsonl(tmp_path / "run" / METRICS))

    other = _jsonl(tmp_path / "y" / "test.jsonl", TRAIN_ROWS[:2])
    out = tmp_path / "eval"
    eval_options = dict(model=tiny_model_dir, benchmark=f"{data},{other}", samples=1, max_new_tokens=4, out=out)
    assert main(["eval", *flags(**eval_options)]) == 0
    assert sorted(r["id"] for r in read_jsonl(out / "x_test" / "samples.jsonl")) == [
        str(i) for i in range(len(TRAIN_ROWS))
    ]
    assert len(read_jsonl(out / "y_test" / "samples.jsonl")) == 2  # two files named test.jsonl: two folders
