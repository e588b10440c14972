"""Evaluation: score agents' patches by merging them and running the hidden tests."""
