"""Fails at import, as a plugin with a missing dependency would."""

raise ImportError("No module named 'kubernetes' (cooperbench-broken needs it)")
