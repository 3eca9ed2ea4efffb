# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's "check logs for repeated errors": the error lines of each service's log, grouped by what they
say once their varying parts (times, numbers, ids, addresses) are set aside.

Pure functions, no I/O: the compose_logs module reads the logs and hands them here.
"""

from __future__ import annotations

import re

# Words that make a line an error line, as most logs write them (a team sets its own pattern).
DEFAULT_PATTERN = r"(?i)\b(error|exception|traceback|fatal|panic|critical)\b"
# `docker compose logs` puts "<container name>  | " in front of each line.
_PREFIX = re.compile(r"^(?P<container>[A-Za-z0-9][A-Za-z0-9_.-]*)\s+\|\s?(?P<line>.*)$")
# What differs between two lines that say the same thing.
_VARYING = (
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{12,}\b"), "<hex>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<addr>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
)
MAX_MESSAGE = 160


def shape(line):
    """A line with its varying parts replaced, so that lines saying the same thing compare equal."""
    text = line.strip()
    for pattern, placeholder in _VARYING:
        text = pattern.sub(placeholder, text)
    return re.sub(r"\s+", " ", text)[:MAX_MESSAGE]


def service_of(container):
    """The compose service of a container as ``docker compose logs`` names it (<service>-<n>; older releases print
    the whole container name, the project in front, which is then kept)."""
    match = re.match(r"^(.+?)[-_]\d+$", container)
    return match.group(1) if match else container


def scan(text, pattern=DEFAULT_PATTERN, repeat_limit=10):
    """What ``docker compose logs`` (``text``, with its container prefixes) holds of errors.

    Returns ``{"lines": int, "errors": {service: count}, "repeated": [{service, message, count}, ...]}``:
    ``repeated`` has every message said at least ``repeat_limit`` times by one service, most said first.
    """
    matcher = re.compile(pattern)
    counts, errors, lines = {}, {}, 0
    for raw in (text or "").splitlines():
        match = _PREFIX.match(raw)
        if not match:
            continue
        lines += 1
        line = match.group("line")
        if not matcher.search(line):
            continue
        service = service_of(match.group("container"))
        errors[service] = errors.get(service, 0) + 1
        key = (service, shape(line))
        counts[key] = counts.get(key, 0) + 1
    repeated = [
        {"service": service, "message": message, "count": count}
        for (service, message), count in counts.items()
        if count >= int(repeat_limit)
    ]
    repeated.sort(key=lambda item: (-item["count"], item["service"], item["message"]))
    return {"lines": lines, "errors": errors, "repeated": repeated}


def repeated_line(repeated, most=3):
    """``payments said 'error payments: request failed' 412 times; gateway ...`` for a verification report."""
    parts = ["%s said %r %d times" % (r["service"], r["message"], r["count"]) for r in repeated[:most]]
    if len(repeated) > most:
        parts.append("%d more" % (len(repeated) - most))
    return "; ".join(parts)
