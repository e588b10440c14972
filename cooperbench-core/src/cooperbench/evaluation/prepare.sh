#!/bin/sh
# Put each agent's patch on its own branch from the base commit, then merge them.
# Usage: prepare.sh REPO OUT_PATCH PATHSPECS NAME=PATCH_FILE...
# Prints "apply NAME applied|skipped|failed" per agent, then
# "merge clean|conflicts|missing_input|error naive|union" when there are 2+ agents,
# then "tests run" when there is code to test (the verdict rules read it), and
# writes the combined diff against the base to OUT_PATCH. That diff leaves out
# every path the exclude pathspecs of the PATHSPECS file (one a line) protect, so git
# itself decides which files a patch touched; each such path is printed first as
# "protected PATH". When that diff was
# written it is also printed after a line "merged-diff", which saves the caller a
# file transfer. Leaves HEAD at the base, because task runners reset to HEAD before
# applying that diff.
repo=$1
out=$2
pathspecs=$3
shift 3
cd "$repo" || exit 90
GIT_AUTHOR_NAME=cooperbench GIT_AUTHOR_EMAIL=cooperbench@localhost
GIT_COMMITTER_NAME=cooperbench GIT_COMMITTER_EMAIL=cooperbench@localhost
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
base=$(git rev-parse --verify -q HEAD) || exit 91
home=$(git symbolic-ref -q --short HEAD)
git reset -q --hard && git clean -qfdx
rm -f .git/info/attributes

count=0
failed=0
for spec in "$@"; do
  name=${spec%%=*}
  patch=${spec#*=}
  count=$((count + 1))
  eval "branch_$count=\$name"
  git checkout -q -B "$name" "$base"
  if [ ! -s "$patch" ]; then
    status=skipped
  elif git apply --index "$patch" 2>/dev/null || git apply --3way "$patch" 2>/dev/null; then
    git commit -q --no-verify --allow-empty -m "$name" && status=applied || status=failed
  else
    status=failed
  fi
  if [ "$status" = failed ]; then
    git reset -q --hard && git clean -qfd
    failed=1
  fi
  echo "apply $name $status"
done

result=$branch_1
if [ "$count" -ge 2 ]; then
  # As the published scorer does: merge agent1 into agent2, then fold in the rest. A
  # branch whose patch failed stays at the base, so the others are still merged and
  # tested; the merge is then reported as missing_input.
  git checkout -q -B merged "$branch_2"
  order=$branch_1
  k=3
  while [ "$k" -le "$count" ]; do
    eval "order=\"\$order \$branch_$k\""
    k=$((k + 1))
  done
  state=clean
  strategy=naive
  for branch in $order; do
    if git merge -q --no-edit --no-ff "$branch" >/dev/null 2>&1; then
      continue
    fi
    git merge --abort >/dev/null 2>&1 || git reset -q --hard
    echo "* merge=union" > .git/info/attributes
    if git merge -q --no-edit --no-ff "$branch" >/dev/null 2>&1; then
      state=conflicts
      strategy=union
    else
      git merge --abort >/dev/null 2>&1 || git reset -q --hard
      state=error
    fi
    rm -f .git/info/attributes
    [ "$state" = error ] && break
  done
  [ "$state" = error ] && result= || result=merged
  [ "$failed" = 1 ] && [ "$state" != error ] && state=missing_input
  echo "merge $state $strategy"
fi

# Whether there is code to test: the one patch applied, or the branches merged (a
# branch whose patch failed is at the base; the others are still tested).
if [ "$count" -ge 2 ]; then
  [ "$state" != error ] && echo "tests run"
elif [ "$failed" = 0 ]; then
  echo "tests run"
fi

if [ -n "$result" ]; then
  # No globbing, one pathspec a line: the patterns hold "*" and no newline.
  set -f
  IFS='
'
  set -- $(cat "$pathspecs")
  unset IFS
  git -c core.quotePath=false diff --name-only --no-renames "$base" "$result" -- \
    $(printf '%s\n' "$@" | sed 's/^:(exclude,glob)/:(glob)/') | sed 's/^/protected /'
  git diff --binary --no-renames "$base" "$result" -- . "$@" > "$out" \
    && echo merged-diff && cat "$out"
fi
if [ -n "$home" ]; then git checkout -q "$home"; else git checkout -q --detach "$base"; fi
git reset -q --hard "$base"
git clean -qfdx
exit 0
