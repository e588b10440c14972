"""The ``gcp`` backend of cooperbench: batch evaluation on Google Cloud Batch.

The entry point names :mod:`cooperbench_gcp.plugin`, which imports no Google SDK:
the clients are imported inside the hooks that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"
