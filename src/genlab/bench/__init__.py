"""Reproduction suites: run experiments x seeds through Hydra multiruns, then tabulate and plot
them against the papers' numbers (``genlab-bench suite=cpu``)."""
