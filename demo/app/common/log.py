"""One line per event on stdout, so `docker compose logs` reads well and nothing is buffered."""

import json
import sys
import time

_state = {"service": "app"}


def setup(service):
    _state["service"] = service


def service():
    return _state["service"]


def info(msg, **fields):
    _emit("info", msg, fields)


def error(msg, **fields):
    _emit("error", msg, fields)


def _emit(level, msg, fields):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    extra = " ".join(f"{k}={json.dumps(v)}" for k, v in fields.items())
    line = f"{stamp} {level} {_state['service']}: {msg}" + (f" {extra}" if extra else "")
    print(line, file=sys.stdout, flush=True)
