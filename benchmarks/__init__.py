"""chainrule's benchmark suite: chainrule against its peers, each in a fresh process.

Run ``python -m benchmarks`` from the repository root (``--quick`` for a short smoke run,
``--only NAME`` for one benchmark, ``--list`` for the names). The parent process starts one
worker (``python -m benchmarks.worker SPEC``) per system and repeat, interleaving the systems so
that a noisy neighbour hurts them all alike, reads one JSON result from each worker's stdout and
prints medians, min–max and the ratio chainrule/peer in one table. Results also go to
``benchmarks/results/latest.json``.

Modules: ``mlp`` (the [784,30,30,30,10] sigmoid MLP epoch in every system), ``scalar`` (scalar
chain and wide DAG), ``misc`` (import time, the ``circuit`` command, the vanishing table),
``worker`` (the child-process entry point), ``runner`` (scheduling, table, JSON) and
``report`` (``python -m benchmarks.report`` turns a results file into Markdown tables).
"""
