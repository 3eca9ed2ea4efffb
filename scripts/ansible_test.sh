#!/usr/bin/env bash
# ansible-test on the collection exactly as Galaxy ships it, here, offline but for PyPI.
#
#   bash scripts/ansible_test.sh sanity      # every sanity test that applies to a collection
#   bash scripts/ansible_test.sh units       # tests/unit through ansible-test's own pytest setup
#
# ansible-test must run from .../ansible_collections/<namespace>/<name>/, so the collection's tarball
# (ansible-galaxy collection build: the shipped files only) is unpacked under .ansible-test/<command>/. Its HOME
# is .ansible-test/home, so that its caches and the sanity tests' virtual environments stay in the
# checkout. The one thing it fetches from outside PyPI is pip's bootstrap script (get-pip.py from
# ci-files.testing.ansible.com, not reachable here): the stand-in below makes pip with ensurepip and
# installs the pinned pip from PyPI, which is what get-pip.py does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/.ansible-test
BIN=$ROOT/.venv/bin
what=${1:?usage: ansible_test.sh sanity|units}
# A tree per command, so that sanity and units can run at the same time; one HOME (caches, sanity venvs).
TREE=$WORK/$what/ansible_collections/runbook/rollback

rm -rf "$WORK/$what"
mkdir -p "$TREE" "$WORK/$what/build" "$WORK/home"
"$BIN/ansible-galaxy" collection build --force --output-path "$WORK/$what/build" "$ROOT" >/dev/null
tar -xzf "$WORK/$what"/build/runbook-rollback-*.tar.gz -C "$TREE"
# As a source tree, not an installed collection: galaxy.yml instead of the build's manifest. The tree is
# its own git repository with every file staged: inside the checkout (which ignores .ansible-test/)
# ansible-test would otherwise list the checkout's git files under it, none, and skip every test.
rm -f "$TREE/MANIFEST.json" "$TREE/FILES.json"
cp "$ROOT/galaxy.yml" "$TREE/"
git -C "$TREE" init -q
git -C "$TREE" add -A

# The pip version ansible-test bootstraps into each virtual environment it makes.
pip_version=$("$BIN/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11"))["pip"])
PY
)
cache=$WORK/home/.ansible/test/cache
mkdir -p "$cache"
cat > "$cache/get_pip_${pip_version//./_}.py" <<PY
"""Stand-in for get-pip.py $pip_version (made by scripts/ansible_test.sh): pip from ensurepip, then the pinned
pip from PyPI; the options ansible-test gives get-pip.py are pip install's own."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])
PY

cd "$TREE"
export HOME=$WORK/home PATH=$BIN:$PATH
# pip's own cache (the user's) makes a fresh checkout's sanity environments quick to rebuild.
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)/.cache}/pip}
status=0
case $what in
  sanity) ansible-test sanity --local --python 3.11 --color no || status=$? ;;
  units) ansible-test units --local --python 3.11 --color no || status=$? ;;
  *) echo "usage: ansible_test.sh sanity|units" >&2; exit 2 ;;
esac
# Each test's time for the table .ci/run ends with (scripts/phases.py), when RUNBOOK_JUNIT names a directory.
if [ -n "${RUNBOOK_JUNIT:-}" ] && [ "$what" = units ]; then
  cp tests/output/junit/*-units.xml "$RUNBOOK_JUNIT/unit.xml" 2>/dev/null || true
fi
exit "$status"
