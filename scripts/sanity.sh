#!/usr/bin/env bash
# ansible-test sanity on a copy of the tracked files laid out as ansible_collections/airgap/registry.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ ! -x .venv-sanity/bin/ansible-test ]; then
  python3 -m venv .venv-sanity
  .venv-sanity/bin/pip install -q --disable-pip-version-check 'ansible-core>=2.19,<2.20'
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/airgap/registry
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$dest/"
# ansible-test bootstraps pip in its venvs with get-pip.py from a host we cannot reach; give it a local
# stand-in that does the same with ensurepip and PyPI.
pipver=$("$root/.venv-sanity/bin/python" -c 'from ansible_test._internal.python_requirements import PIP_VERSION; print(PIP_VERSION)' 2>/dev/null || echo 24.2)
shim=~/.ansible/test/cache/get_pip_${pipver//./_}.py
mkdir -p "$(dirname "$shim")"
cat >"$shim" <<'PY'
"""Local stand-in for get-pip.py: ensurepip, then pip install the requested packages."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args])
PY
cd "$dest"
git init -q . && git add -A >/dev/null  # ansible-test lists files through git
tests=(--test validate-modules --test compile --test import --test yamllint --test pep8 --test pylint
       --test shebang --test line-endings --test no-smart-quotes --test empty-init --test action-plugin-docs
       --test runtime-metadata --test symlinks --test use-compat-six --test no-assert --test ansible-doc)
"$root/.venv-sanity/bin/ansible-test" sanity --color no --python 3.11 --venv "${tests[@]}" ${@:-plugins/ meta/}
