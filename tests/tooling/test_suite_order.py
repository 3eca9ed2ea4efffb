"""Every integration and fault module has its measured place in the order the workers take them
(tests/conftest.py): a module left out runs after all the others, and one long module started last
keeps a worker busy alone while the other idles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def heaviest_first() -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("suite_conftest", TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HEAVIEST_FIRST


def test_every_stack_module_is_ordered_by_its_measured_time():
    modules = {p.name for d in ("integration", "faults") for p in (TESTS / d).glob("test_*.py")}
    order = heaviest_first()
    assert len(order) == len(set(order))
    assert sorted(modules - set(order)) == [], "add these to HEAVIEST_FIRST by their measured minutes"
    assert sorted(set(order) - modules) == [], "HEAVIEST_FIRST names modules that no longer exist"


def test_the_workers_take_the_modules_in_that_order():
    # pytest-xdist's loadfile reorders modules by their number of tests unless told not to.
    makefile = (TESTS.parent / "Makefile").read_text()
    commands = [line for line in makefile.splitlines() if "--dist loadfile" in line]
    assert len(commands) == 2 and all("--no-loadscope-reorder" in line for line in commands), commands
