"""Prompts: the paper's template, each benchmark's own, and the text a model is given for a question."""

from __future__ import annotations

import logging
from dataclasses import replace

from thrifty.data.problems import Problem
from thrifty.data.registry import get_benchmark


logger = logging.getLogger(__name__)


PAPER_PROMPT_TEMPLATE = (
    "Please reason step by step, and put your final answer within \\boxed{{}}. Question: {question}"
)
"""The prompt of Arora & Zanette (2025) and its official evaluation; ``{question}`` is filled in."""


OFFICIAL_PROMPT_TEMPLATE = (
    "<｜begin▁of▁sentence｜><｜User｜>Please reason step by step, and put your final answer "
    "within \\boxed{{}}. Question: {question}<｜Assistant｜>"
)
"""The official training prompt (``run_rloo_*.sh``'s ``--input_template``): DeepSeek-R1's special tokens written
as text, no chat template applied, and -- unlike the current DeepSeek-R1 chat template -- no ``<think>\\n`` opened
for the model. For DeepSeek-R1-Distill models only (``--prompt_format raw``)."""


BUDGET_INSTRUCTIONS = {
    "exact": " Think for {budget} tokens.",
    "max": " Think for maximum {budget} tokens.",
}
"""L1's budget prompts (Aggarwal & Welleck 2025, arXiv 2503.04697; cmu-l3/l1's data scripts): appended to the
question after one space (L1's ``f"{question} {instruction}"``), ``exact`` for L1-Exact, ``max`` for L1-Max. L1's
own instruction also asks for step-by-step reasoning and a boxed answer, which the paper's prompt template already
does."""


def budget_instruction(budget: int, mode: str = "exact") -> str:
    """The text L1 appends to a question to ask for ``budget`` thinking tokens (``mode``: ``exact`` or ``max``).

    Example:
        >>> "12+30" + budget_instruction(64, "max")
        '12+30 Think for maximum 64 tokens.'
    """
    if mode not in BUDGET_INSTRUCTIONS:
        raise ValueError(f"budget mode must be one of {', '.join(BUDGET_INSTRUCTIONS)}, got {mode!r}")
    if not (isinstance(budget, int) and not isinstance(budget, bool) and budget > 0):
        raise ValueError(f"a token budget must be a positive integer, got {budget!r}")
    return BUDGET_INSTRUCTIONS[mode].format(budget=budget)


def with_instruction(problem: Problem, instruction: str) -> Problem:
    """``problem`` with ``instruction`` appended to its question -- and to the last user message of a conversational
    problem -- as L1 appends its budget (the prompt template is then filled with the longer question).

    Example:
        >>> with_instruction(Problem("0", "12+30", "42"), budget_instruction(40)).question
        '12+30 Think for 40 tokens.'
    """
    if not instruction:
        return problem
    messages = problem.messages
    if messages is not None:
        users = [i for i, (role, _) in enumerate(messages) if role == "user"]
        if not users:
            raise ValueError(f"problem {problem.id!r} has no user message to append {instruction.strip()!r} to")
        last = users[-1]
        messages = tuple((r, c + instruction if i == last else c) for i, (r, c) in enumerate(messages))
    return replace(problem, question=problem.question + instruction, messages=messages)


STYLE_INSTRUCTIONS = {
    "paper": "",
    "chain-of-draft": " Think step by step, but only keep a minimum draft for each thinking step, with 5 words at "
    "most.",
    "concise": " Be concise.",
}
"""Instructions appended to the question by ``--prompt_style`` (after one space, as L1's budget): none for the paper's
prompt; Chain of Draft's (Xu et al. 2025, arXiv 2502.18600) without its "Return the answer at the end of the
response after a separator ####.", since the prompt already asks for the answer in ``\\boxed{}`` and the verifier
reads it there; a plain request for brevity."""

PROMPT_STYLES = (*STYLE_INSTRUCTIONS, "l1-exact", "l1-max")
"""``thrifty eval --prompt_style``: the benchmark's own prompt (``paper``), it with an instruction to be brief
(``chain-of-draft``, ``concise``: :data:`STYLE_INSTRUCTIONS`), or it with L1's budget instruction (``l1-exact``,
``l1-max``: "Think for N tokens." / "Think for maximum N tokens.", N = ``--prompt_budget``) for models trained with
it."""


def style_instruction(style: str, budget: int | None) -> str:
    """The text ``--prompt_style`` appends to each question (none for ``paper``).

    Example:
        >>> style_instruction("l1-max", 256)
        ' Think for maximum 256 tokens.'
        >>> style_instruction("concise", None)
        ' Be concise.'
    """
    if style not in PROMPT_STYLES:
        raise ValueError(f"--prompt_style must be one of {', '.join(PROMPT_STYLES)}, got {style!r}")
    if style in STYLE_INSTRUCTIONS:
        if budget is not None:
            raise ValueError("--prompt_budget is the budget of an L1 prompt: add --prompt_style l1-exact or l1-max")
        return STYLE_INSTRUCTIONS[style]
    if budget is None:
        raise ValueError(f"--prompt_style {style} writes a token budget into the prompt: give --prompt_budget N")
    return budget_instruction(budget, style.removeprefix("l1-"))


def raw_prompt(question: str, template: str, tokenizer=None) -> str:
    """The text of a raw prompt (``--prompt_format raw``: no chat template), ready for a tokenizer that adds its own
    special tokens: ``template`` filled in, with a leading BOS written in the template dropped when ``tokenizer``
    adds one itself -- so the prompt holds BOS exactly once, as the official code's (which tokenizes without
    special tokens) does.

    Example:
        >>> raw_prompt("1+1?", "<s>Q: {question}")
        '<s>Q: 1+1?'
    """
    text = template.format(question=question)
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos) and adds_bos(tokenizer):
        text = text[len(bos) :]
    return text


def adds_bos(tokenizer) -> bool:
    """Whether ``tokenizer`` puts a BOS token in front of what it encodes (``add_special_tokens=True``)."""
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if bos_id is None:
        return False
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == bos_id


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


_template_ignored_noted = False


def note_template_ignored() -> None:
    """Log once per process that conversational rows are given as they are, without the prompt template."""
    global _template_ignored_noted
    if not _template_ignored_noted:
        _template_ignored_noted = True
        logger.info(
            "conversational prompts (a list of chat messages) are given to the model as those messages through its "
            "chat template; the prompt template (--prompt_template) is not applied to them"
        )


def render_prompt(problem: Problem, tokenizer=None, template: str = PAPER_PROMPT_TEMPLATE) -> str:
    """The text a model is given for ``problem``: :func:`build_prompt` of its question, or, for a conversational
    problem (``problem.messages``), its messages as they are through the chat template, with the assistant's
    turn opened -- ``template`` is then not applied (logged once). Without a chat template, a conversation is its
    messages' contents joined by blank lines.

    Example:
        >>> render_prompt(Problem("0", "What is 1+1?", "2"), template="{question}")
        'What is 1+1?'
        >>> render_prompt(Problem("0", "12+30", "42", messages=(("system", "Be brief."), ("user", "12+30"))))
        'Be brief.\\n\\n12+30'
    """
    if problem.messages is None:
        return build_prompt(problem.question, tokenizer, template)
    note_template_ignored()
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(problem.chat(), tokenize=False, add_generation_prompt=True)
    return "\n\n".join(content for _, content in problem.messages)
