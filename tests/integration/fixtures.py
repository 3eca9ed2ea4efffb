"""The fixtures of every module that runs real stacks (tests/integration, tests/faults); each directory's
conftest imports them."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time

import boto3
import pytest
from stack import BIN, engine_problem, free_port, new_stack


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    """These tests need the real engine that `make setup` starts; never skip silently."""
    problem = engine_problem()
    if problem:
        pytest.fail(problem)


@pytest.fixture(scope="module")
def stack():
    """A real staging stack per module: its own git repository, compose project, port and password."""
    with new_stack() as st:
        yield st


@contextlib.contextmanager
def s3_server(bucket: str, secret: str):
    """(endpoint URL, boto3 client) of a local S3-compatible server (moto's) on 127.0.0.1 holding `bucket`,
    never a real one; stopped on exit."""
    port = free_port()
    server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("moto_server did not start")
                time.sleep(0.2)
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key=secret)  # fmt: skip
        client.create_bucket(Bucket=bucket)
        yield url, client
    finally:
        server.terminate()
        server.wait(timeout=10)
