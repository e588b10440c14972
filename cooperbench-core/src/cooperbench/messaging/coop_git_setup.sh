#!/bin/sh
# coop-git-setup [REPO_DIR]: connect a repository to the run's shared git remote.
#
# Adds (or updates) the remote "team" pointing at $COOPERBENCH_GIT_URL, makes commits
# carry this agent's id as author, and switches to the branch named after the agent
# (creating it from the current commit the first time). Safe to run again.
set -eu

agent="${COOPERBENCH_AGENT_ID:-}"
url="${COOPERBENCH_GIT_URL:-}"
if [ -z "$agent" ]; then
    echo "coop-git-setup: COOPERBENCH_AGENT_ID is not set" >&2
    exit 2
fi
if [ -z "$url" ]; then
    echo "coop-git-setup: this run has no shared git remote (COOPERBENCH_GIT_URL is not set)" >&2
    exit 2
fi

cd "${1:-.}"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "coop-git-setup: $(pwd) is not a git repository; pass the repository folder" >&2
    exit 2
fi

if git remote get-url team >/dev/null 2>&1; then
    git remote set-url team "$url"
else
    git remote add team "$url"
fi
git config user.name "$agent"
git config user.email "$agent@cooperbench.invalid"
# "git push team" with no branch then pushes the branch you are on.
git config push.default current

if git show-ref --verify --quiet "refs/heads/$agent"; then
    git checkout -q "$agent"
else
    git checkout -q -b "$agent"
fi

echo "remote 'team' is $url; you are on branch '$agent'"
echo "share your work:     git push team $agent"
echo "see the others':     git fetch team && git branch -r"
