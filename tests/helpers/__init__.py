"""Helpers shared by the tests (and the benchmarks): fakes, composed configs, CLI runs, readers.

Test modules import from here, never from another test module or from ``conftest``.
"""
