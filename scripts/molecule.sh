#!/usr/bin/env bash
# Run every molecule scenario of the collection (molecule/*/molecule.yml) with `molecule test`; fail on any failure.
#   scripts/molecule.sh              -> all scenarios
#   scripts/molecule.sh default fleet -> those scenarios
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.venv/bin:$PATH:/usr/sbin:/sbin"
export ANSIBLE_COLLECTIONS_PATH="$root/.venv/collections"
export ANSIBLE_ROLES_PATH="$root/roles"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1
if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  mapfile -t scenarios < <(for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done)
fi
failed=()
for s in "${scenarios[@]}"; do
  echo "=== molecule test -s $s"
  start=$SECONDS
  if molecule test -s "$s"; then
    echo "=== $s: passed in $((SECONDS - start))s"
  else
    echo "=== $s: FAILED after $((SECONDS - start))s"
    failed+=("$s")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "molecule: failed scenarios: ${failed[*]}" >&2
  exit 1
fi
echo "molecule: ${#scenarios[@]} scenario(s) passed: ${scenarios[*]}"
