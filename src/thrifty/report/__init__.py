"""Reports: what runs hold (:mod:`~thrifty.report.collect`), markdown tables (:mod:`~thrifty.report.tables`, pure),
allocation frontiers (:mod:`~thrifty.report.frontier`, pure), PNG plots (:mod:`~thrifty.report.plots`) and
``report.md`` (:mod:`~thrifty.report.write`; ``thrifty report``). Files in, files out: a report never loads a model."""
