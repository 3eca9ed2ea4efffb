# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dump_sources filter; documented in dump_sources.yml."""

from __future__ import annotations

import posixpath
import re

from ansible.errors import AnsibleFilterError

S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?$")


def _source(item, staging_dir):
    """One source: where it is read on the target, where it is fetched from, or why it is not a source."""
    entry = {"src": item, "url": None, "bucket": None, "prefix": None, "error": None}
    if not item.lower().startswith("s3:"):
        if not posixpath.isabs(item):
            return dict(entry, error="%s is not an absolute path on the target or an s3://bucket/prefix" % item)
        return dict(entry, src=posixpath.normpath(item))
    found = S3_URL.match(item)
    if not found:
        return dict(entry, error="%s is not an s3://bucket/prefix (a bucket name: 3 to 63 of a-z 0-9 . -)" % item)
    bucket, prefix = found.group(1), (found.group(2) or "").strip("/")
    if any(part in (".", "..") for part in prefix.split("/")):
        return dict(entry, error="%s: a prefix with . or .. parts is not fetched" % item)
    src = posixpath.join(staging_dir, bucket, prefix or "_")
    prefix = prefix + "/" if prefix else ""
    return dict(entry, src=src, url="s3://%s/%s" % (bucket, prefix.rstrip("/")) if prefix else "s3://" + bucket,
                bucket=bucket, prefix=prefix)  # fmt: skip


def dump_sources(text, staging_dir):
    """adopt.yml's -e dumps (comma-separated) as the sources to import: a path on the target as it is, an
    s3://bucket/prefix as the directory of staging_dir its dumps are fetched into; an entry that is neither
    says why in `error`."""
    if isinstance(text, (list, tuple)):
        items = [str(item).strip() for item in text]
    else:
        items = [item.strip() for item in str(text or "").split(",")]
    if not isinstance(staging_dir, str) or not posixpath.isabs(staging_dir):
        raise AnsibleFilterError("dump_sources: staging_dir must be an absolute path")
    return [_source(item, staging_dir) for item in items if item]


class FilterModule:
    def filters(self):
        return {"dump_sources": dump_sources}
