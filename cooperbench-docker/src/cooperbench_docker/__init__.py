"""The Docker backend of cooperbench: task containers on a local or remote Docker engine.

The entry point names :mod:`cooperbench_docker.plugin`; this package imports nothing
heavy at import time, so discovering the plugin never imports the ``docker`` SDK.
"""
