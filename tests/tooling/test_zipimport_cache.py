"""scripts/zipimport_cache.py: compiled code of module payloads kept, and the same code read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"

MOD = '''\
VALUE = 41 + 1


def boom():
    raise RuntimeError("boom")
'''

# Imports pkg.mod from the zip, as AnsiballZ does, and says what a module would see.
PROBE = f'''\
import json, sys, traceback
sys.path.insert(0, {str(SCRIPTS)!r})
import zipimport_cache
installed = zipimport_cache.install(sys.argv[2] or None)
sys.path.insert(0, sys.argv[1])
import pkg.mod
try:
    pkg.mod.boom()
except RuntimeError as exc:
    where = traceback.extract_tb(exc.__traceback__)[-1].filename
print(json.dumps(dict(installed=installed, value=pkg.mod.VALUE, file=pkg.mod.__file__, traceback=where)))
'''


def payload(tmp_path: Path, run: str, name: str = "ansible_stat_payload.zip") -> Path:
    path = tmp_path / run / name
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/mod.py", MOD)
    return path


def probe(zip_path: Path, cache: Path | None) -> dict:
    # Empty: off (the venv's .pth line would otherwise make its own cache directory the default).
    env = dict(os.environ, RUNBOOK_ZIPIMPORT_CACHE="")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(zip_path), str(cache or "")],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout)


def test_a_payload_is_compiled_once_and_read_back_with_its_own_path(tmp_path):
    cache = tmp_path / "cache"
    first = probe(payload(tmp_path, "run1"), cache)
    kept = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(kept) == 2, kept  # pkg/__init__.py and pkg/mod.py
    second_zip = payload(tmp_path, "run2")
    second = probe(second_zip, cache)
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == kept  # read, not written again
    assert first["value"] == second["value"] == 42
    assert second["file"] == str(second_zip / "pkg" / "mod.py")
    assert second["traceback"] == str(second_zip / "pkg" / "mod.py")


def test_a_changed_source_is_compiled_again(tmp_path):
    cache = tmp_path / "cache"
    probe(payload(tmp_path, "run1"), cache)
    changed = tmp_path / "run2" / "ansible_stat_payload.zip"
    changed.parent.mkdir()
    with zipfile.ZipFile(changed, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/mod.py", MOD.replace("41 + 1", "6 * 7 + 1"))
    assert probe(changed, cache)["value"] == 43
    assert len(list(cache.iterdir())) == 3


def test_a_damaged_entry_is_compiled_again_and_replaced(tmp_path):
    cache = tmp_path / "cache"
    probe(payload(tmp_path, "run1"), cache)
    for entry in cache.iterdir():
        entry.write_bytes(b"\x00garbage")
    assert probe(payload(tmp_path, "run2"), cache)["value"] == 42
    assert all(entry.read_bytes() != b"\x00garbage" for entry in cache.iterdir())


@pytest.mark.parametrize("cache_set, name", [(False, "ansible_stat_payload.zip"), (True, "library.zip")])
def test_nothing_is_kept_without_the_setting_or_for_other_zips(tmp_path, cache_set, name):
    cache = tmp_path / "cache"
    result = probe(payload(tmp_path, "run1", name), cache if cache_set else None)
    assert result["installed"] is cache_set
    assert result["value"] == 42
    assert not cache.exists()


def test_module_runs_of_the_venv_use_it(tmp_path):
    """make setup installs it into the venv: a real module run through ansible fills the cache."""
    cache = tmp_path / "cache"
    env = dict(os.environ, RUNBOOK_ZIPIMPORT_CACHE=str(cache), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    bin_dir = Path(sys.executable).parent
    argv = [str(bin_dir / "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.ping",
            "-e", "ansible_python_interpreter=" + sys.executable]  # fmt: skip
    for _attempt in range(2):
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert '"ping": "pong"' in proc.stdout
    # ansible.module_utils.basic and what it imports: many sources, each kept once.
    assert len(list(cache.iterdir())) > 20
