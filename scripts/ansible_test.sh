#!/usr/bin/env bash
# ansible-test on the collection exactly as Galaxy ships it, here, offline but for PyPI.
#
#   bash scripts/ansible_test.sh sanity      # every sanity test that applies to a collection
#   bash scripts/ansible_test.sh units       # tests/unit through ansible-test's own pytest setup
#
# ansible-test must run from .../ansible_collections/<namespace>/<name>/, so the collection's tarball
# (ansible-galaxy collection build: the shipped files only) is unpacked under .ansible-test/. Its HOME
# is .ansible-test/home, so that its caches and the sanity tests' virtual environments stay in the
# checkout. The one thing it fetches from outside PyPI is pip's bootstrap script (get-pip.py from
# ci-files.testing.ansible.com, not reachable here): the stand-in below makes pip with ensurepip and
# installs the pinned pip from PyPI, which is what get-pip.py does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/.ansible-test
TREE=$WORK/ansible_collections/runbook/rollback
BIN=$ROOT/.venv/bin
what=${1:?usage: ansible_test.sh sanity|units}

rm -rf "$WORK/ansible_collections" "$WORK/build"
mkdir -p "$TREE" "$WORK/build" "$WORK/home"
"$BIN/ansible-galaxy" collection build --force --output-path "$WORK/build" "$ROOT" >/dev/null
tar -xzf "$WORK"/build/runbook-rollback-*.tar.gz -C "$TREE"
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
case $what in
  sanity) exec ansible-test sanity --local --python 3.11 --color no ;;
  units) exec ansible-test units --local --python 3.11 --color no ;;
  *) echo "usage: ansible_test.sh sanity|units" >&2; exit 2 ;;
esac
