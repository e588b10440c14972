"""The ``cooperbench`` command line."""
