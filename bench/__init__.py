"""kb's benchmark harness (not part of kb's distribution): run from the repository root.

    python -m bench.gen --notes 6000 --seed 1 /tmp/vault-6k   # a synthetic vault
    python -m bench.run                                        # the README's speed table

:mod:`bench.gen` writes the vault (vocabulary in :mod:`bench.words`), :mod:`bench.measure`
times processes, :mod:`bench.run` runs the figures and :mod:`bench.report` writes the table,
the JSON and the plot.
"""
