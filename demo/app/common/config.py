"""Settings come from the environment only, so one image serves every release and stack."""

import os


class MissingSetting(RuntimeError):
    pass


def get(name, default=None):
    value = os.environ.get(name, "")
    return value if value != "" else default


def get_int(name, default):
    return int(get(name, str(default)))


def get_float(name, default):
    return float(get(name, str(default)))


def require(name):
    value = get(name)
    if value is None:
        raise MissingSetting(f"missing required setting {name}")
    return value


def version():
    return get("APP_VERSION", "unknown")
