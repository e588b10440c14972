"""Where things live inside every task sandbox: the layout task images and core share.

The published task images keep the repository at ``/workspace/repo`` and the runner on
``PATH`` in ``/usr/local/bin``; core adds ``/patches`` for the patches it scores and
``/tmp/cooperbench`` for its own scratch files and tools. Every backend maps these
paths (the ``local`` backend under its private root).
"""

from __future__ import annotations

#: The default working directory of a sandbox.
WORKSPACE_DIR = "/workspace"
#: The task's git checkout.
REPO_DIR = f"{WORKSPACE_DIR}/repo"
#: Where evaluation puts the patches it applies.
PATCHES_DIR = "/patches"
#: Core's scratch files (scripts, reports, patches of agents).
SCRATCH_DIR = "/tmp/cooperbench"
#: The messaging tools installed into agent sandboxes (``coop-msg``, ``coop-git-setup``).
TOOLS_DIR = f"{SCRATCH_DIR}/bin"
#: Where a task image keeps ``runner.sh``.
RUNNER_DIR = "/usr/local/bin"
