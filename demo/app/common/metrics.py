"""Prometheus text for every service's /metrics: the container's own CPU and memory (read from its cgroup, as
cAdvisor would from outside; Debian has no cAdvisor), its database transactions and its calls to third parties."""

import collections
import os
import threading

from common import config, log

_lock = threading.Lock()
_counters = collections.Counter()  # (name, labels tuple) -> value
_HELP = {
    "mysaas_upstream_calls_total": ("counter", "Calls to third-party providers by provider and outcome."),
    "mysaas_db_transactions_total": ("counter", "Database transactions run by this service."),
    "mysaas_db_transaction_seconds_total": ("counter", "Time spent in database transactions."),
}


def inc(name, value=1, **labels):
    with _lock:
        _counters[(name, tuple(sorted(labels.items())))] += value


def _read(path):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _first_number(*candidates):
    for path, scale in candidates:
        raw = _read(path)
        if raw is not None:
            try:
                return float(raw) * scale
            except ValueError:
                continue
    return None


def _host_memory_bytes():
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return float(line.split()[1]) * 1024
    return None


def container_usage():
    """CPU seconds used, CPU cores allowed, memory used and allowed, for this container's cgroup (v2 or v1).
    Without a limit, the host's cores and memory are the limit."""
    cpu_seconds = None
    stat = _read("/sys/fs/cgroup/cpu.stat")
    if stat:
        fields = dict(line.split() for line in stat.splitlines() if len(line.split()) == 2)
        cpu_seconds = float(fields.get("usage_usec", 0)) / 1e6
    if cpu_seconds is None:
        cpu_seconds = _first_number(("/sys/fs/cgroup/cpuacct/cpuacct.usage", 1e-9),
                                    ("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", 1e-9))  # fmt: skip
    cores = float(os.cpu_count() or 1)
    quota = _read("/sys/fs/cgroup/cpu.max")
    if quota and not quota.startswith("max"):
        allowed, period = (float(x) for x in quota.split()[:2])
        cores = min(cores, allowed / period)
    else:
        v1 = ("/sys/fs/cgroup/cpu/", "/sys/fs/cgroup/cpu,cpuacct/")
        allowed = _first_number(*((d + "cpu.cfs_quota_us", 1) for d in v1))
        period = _first_number(*((d + "cpu.cfs_period_us", 1) for d in v1))
        if allowed and period and allowed > 0:
            cores = min(cores, allowed / period)
    memory = _first_number(("/sys/fs/cgroup/memory.current", 1), ("/sys/fs/cgroup/memory/memory.usage_in_bytes", 1))
    limit = _first_number(("/sys/fs/cgroup/memory.max", 1), ("/sys/fs/cgroup/memory/memory.limit_in_bytes", 1))
    host = _host_memory_bytes()
    if host and (limit is None or limit > host):  # "max" (v2) or a huge number (v1): no limit
        limit = host
    return {"cpu_seconds": cpu_seconds, "cpu_cores": cores, "memory_bytes": memory, "memory_limit_bytes": limit}


def render():
    """This service's metrics in Prometheus' text format, labelled with the service and its release."""
    service = log.service()
    base = f'service="{service}",version="{config.version()}"'
    lines = []
    usage = container_usage()
    gauges = (
        ("mysaas_container_cpu_seconds_total", "counter", "CPU time used by the container.", usage["cpu_seconds"]),
        ("mysaas_container_cpu_limit_cores", "gauge", "CPU cores the container may use.", usage["cpu_cores"]),
        ("mysaas_container_memory_bytes", "gauge", "Memory the container uses.", usage["memory_bytes"]),
        ("mysaas_container_memory_limit_bytes", "gauge", "Memory the container may use.", usage["memory_limit_bytes"]),
    )
    for name, kind, text, value in gauges:
        if value is not None:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{{{base}}} {value:.6f}"]
    with _lock:
        counters = sorted(_counters.items())
    seen = set()
    for (name, labels), value in counters:
        if name not in seen:
            kind, text = _HELP.get(name, ("counter", name))
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            seen.add(name)
        extra = "".join(f',{k}="{v}"' for k, v in labels)
        lines.append(f"{name}{{{base}{extra}}} {value:.6f}")
    return "\n".join(lines) + "\n"
