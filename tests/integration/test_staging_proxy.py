"""The staging proxy's reload under steady requests: every request answered by a gateway, none by the proxy's 503.

A reload (SIGUSR2 to HAProxy's master) starts a new worker that takes the listening socket over. With its servers'
addresses only from its DNS resolver (init-addr none), the new worker had no server for its first milliseconds and
answered 503: the one request in some rounds of `make bench` that Procedure A's side-by-side run lost (every
rollback that changes the proxy's configuration reloads it). The real proxy image and the repository's own
configuration, one stand-in gateway; no compose stack.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
import urllib.error
import urllib.request
import uuid

import docker
import pytest
from stack import REPO, free_port

RELOADS = 15


@pytest.fixture
def proxy():
    client = docker.from_env()
    name = f"rbproxy{uuid.uuid4().hex[:6]}"
    port = free_port()
    network = client.networks.create(name)
    made = []
    try:
        # A gateway that answers /health and / with 200 (a file each), under the name the proxy resolves.
        made.append(client.containers.run(
            "runbook-rollback/base:bookworm", name=f"{name}-gw", detach=True, network=name,
            command=["sh", "-c", "mkdir -p /tmp/w && echo ok > /tmp/w/health && echo ok > /tmp/w/index.html"
                                 " && cd /tmp/w && exec python3 -m http.server 8080"],
        ))  # fmt: skip
        network.disconnect(made[0])
        network.connect(made[0], aliases=["api-gateway"])
        made.append(client.containers.run(
            "mysaas/proxy:haproxy", name=f"{name}-proxy", detach=True, network=name,
            ports={"8080/tcp": ("127.0.0.1", port)},
            volumes={str(REPO / "demo" / "app" / "proxy"): {"bind": "/etc/haproxy/proxy", "mode": "ro"}},
        ))  # fmt: skip
        deadline = time.monotonic() + 60
        while answer(port) != 200:
            assert time.monotonic() < deadline, made[1].logs().decode()[-2000:]
            time.sleep(0.1)
        yield made[1], port
    finally:
        for container in made:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        network.remove()


def answer(port: int) -> int | str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except Exception as err:  # any other end of a request is counted by its kind
        return type(err).__name__


def test_a_reload_under_steady_requests_answers_every_one(proxy):
    container, port = proxy
    answers: collections.Counter = collections.Counter()
    lock = threading.Lock()
    done = threading.Event()

    def user():
        while not done.is_set():
            got = answer(port)
            with lock:
                answers[got] += 1

    def ended_workers() -> int:
        # The master says so once a reload's old worker has handed over and ended.
        return container.logs().decode().count("Former worker")

    def wait_until(condition, what):
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, f"{what}: " + container.logs().decode()[-2000:]
            time.sleep(0.05)

    users = [threading.Thread(target=user) for _ in range(4)]
    for thread in users:
        thread.start()
    try:
        for n in range(RELOADS):
            before = ended_workers()
            container.exec_run(["kill", "-USR2", "1"])
            wait_until(lambda before=before: ended_workers() > before, f"reload {n + 1}")
        # Requests on the last reload's worker too, before the count.
        with lock:
            sent = sum(answers.values())
        wait_until(lambda: sum(answers.values()) > sent + 100, "requests after the last reload")
    finally:
        done.set()
        for thread in users:
            thread.join()
    assert answers[200] > 10 * RELOADS, answers
    assert set(answers) == {200}, answers
