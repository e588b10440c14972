"""The Modal backend of cooperbench: sandboxes, message bus and git remote on Modal.

The entry point is :mod:`cooperbench_modal.plugin`; the ``modal`` SDK is imported only
inside the hooks, so discovering this plugin costs nothing.
"""
