"""Agents: the plugins that turn a task into a patch inside a sandbox.

An agent is found through the entry-point group ``cooperbench.agents`` (the entry-point
name is the name users type with ``--agent``); core's own ``gold`` and ``command`` agents
are registered the same way. See :mod:`cooperbench.agents.types` for the contract.
"""
