"""A real staging stack per test module: its own git repository, compose project and port.

`make integration` runs these modules and tests/faults on two workers (pytest-xdist, --dist loadfile: a
module's tests stay together, in file order, on one worker), heaviest first (tests/conftest.py).
"""

from fixtures import docker_engine, stack  # noqa: F401 (the fixtures of this directory)
