"""The drills' testinfra checks import their shared helpers (molecule/shared/drill_checks.py) by name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "shared"))
