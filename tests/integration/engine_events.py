"""What the engine reports of a compose project's containers while a run goes on, read live."""

from __future__ import annotations

import contextlib
import threading
import time

import docker


class ContainerEvents:
    """(service, container name, action) of a project's containers, as the engine reports them while the block runs
    (read live: the engine keeps too few past events for a busy machine's healthchecks)."""

    def __init__(self, project: str):
        self.seen: list[tuple[str, str, str]] = []
        self.stream = docker.from_env().events(decode=True, filters={
            "type": "container", "label": f"com.docker.compose.project={project}"})
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self):
        # The stream ends with an error when it is closed.
        with contextlib.suppress(Exception):
            for e in self.stream:
                if e.get("Action", "").startswith("exec_"):
                    continue  # the healthchecks' own commands
                attrs = e.get("Actor", {}).get("Attributes", {})
                action = e["Action"]
                if action == "kill":  # "kill 15" is the stop signal, "kill 9" the SIGKILL after the stop timeout
                    action = f"kill {attrs.get('signal', '')}"
                self.seen.append((attrs.get("com.docker.compose.service", ""), attrs.get("name", ""), action))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        time.sleep(1)  # the last events of the run
        self.stream.close()
        self.thread.join(timeout=10)
