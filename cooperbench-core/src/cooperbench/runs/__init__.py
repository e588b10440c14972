"""Runs: agents on selected pairs in sandboxes, their outputs, resume and auto-eval.

:func:`cooperbench.runs.api.run` is the entry point (also ``cooperbench.run``).
"""
