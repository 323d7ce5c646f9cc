"""thrifty: train reasoning language models to reason efficiently (Arora & Zanette, 2025).

Modules, in the order data flows: :mod:`thrifty.data` (benchmarks, prompts) -> :mod:`thrifty.generation`
(engines) -> :mod:`thrifty.verify` (is an answer correct) -> :mod:`thrifty.metrics` (pass@k, tokens, cutoff
curve) -> :mod:`thrifty.report` (tables); :mod:`thrifty.evaluate` runs that chain, :mod:`thrifty.cli` is the
``thrifty`` command.
"""

__version__ = "0.1.0"
