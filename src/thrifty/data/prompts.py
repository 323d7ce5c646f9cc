"""Prompts: the paper's template, each benchmark's own, and the text a model is given for a question."""

from __future__ import annotations

from thrifty.data.registry import get_benchmark


PAPER_PROMPT_TEMPLATE = (
    "Please reason step by step, and put your final answer within \\boxed{{}}. Question: {question}"
)
"""The prompt of Arora & Zanette (2025) and its official evaluation; ``{question}`` is filled in."""


def template_for(benchmark: str) -> str:
    """The prompt template ``benchmark`` is evaluated (and, as a training split, trained) with: its own where it
    has one (the organism: the bare question), else the paper's.

    Example:
        >>> template_for("gsm8k") == PAPER_PROMPT_TEMPLATE
        True
    """
    registered = get_benchmark(benchmark)
    if registered is not None and registered.prompt_template is not None:
        return registered.prompt_template
    return PAPER_PROMPT_TEMPLATE


def build_prompt(question: str, tokenizer=None, template: str = PAPER_PROMPT_TEMPLATE) -> str:
    """The text a model is given for ``question``.

    The paper's template is filled in and, when ``tokenizer`` has a chat template, wrapped as one user turn
    with the assistant's turn opened (``add_generation_prompt=True``); otherwise the raw text is returned.
    The result already contains any BOS token the chat template adds, so tokenize it with
    ``add_special_tokens=False``.

    Example:
        >>> build_prompt("What is 1+1?")
        'Please reason step by step, and put your final answer within \\\\boxed{}. Question: What is 1+1?'
    """
    text = template.format(question=question)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
    return text
