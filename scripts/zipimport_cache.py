"""A compiled-code cache for the module payloads Ansible runs with the project's venv Python.

Every module run is a new Python process that imports ansible.module_utils from the run's AnsiballZ
payload, a zip of sources: zipimport compiles about a hundred files from source each time and cannot
keep the result. On this project's 2-core machines that was 0.13 s of CPU per module run, over a third
of what a local module run costs, and the tests make thousands of them.

`make setup` installs this file into the venv with a .pth line that imports it at interpreter start.
It does nothing unless RUNBOOK_ZIPIMPORT_CACHE names a directory (the .pth line makes the venv's
zipimport-cache the default; empty turns it off). Then a source compiled from a payload zip
(`ansible_<module>_payload.zip`) is kept there as marshalled code, keyed on the source's bytes, the
interpreter's cache tag and its optimisation level, and read back the next time the same source is
imported: the same file compiled by the same interpreter, as Python's own __pycache__ does for plain
files. A run's own path is put back into the code it reads (tracebacks name this run's payload).
Anything that goes wrong falls back to compiling, as zipimport does.

Modules run on a remote target use that target's Python; nothing there changes.
"""

from __future__ import annotations

import os
import sys
from types import CodeType

ENV = "RUNBOOK_ZIPIMPORT_CACHE"
PAYLOAD = "_payload.zip"


def install(directory: str | None = None) -> bool:
    """Wrap zipimport's compiler with the cache in `directory` (default: $RUNBOOK_ZIPIMPORT_CACHE)."""
    directory = directory or os.environ.get(ENV)
    if not directory:
        return False
    try:
        import _imp
        import hashlib
        import marshal
        import zipimport

        compile_source = zipimport._compile_source
    except (ImportError, AttributeError):  # another Python's zipimport: leave it alone
        return False
    if getattr(compile_source, "runbook_cache", None):
        return True
    suffix = f".{sys.implementation.cache_tag}.opt{sys.flags.optimize}"

    def cached_compile_source(pathname, source):
        if PAYLOAD not in pathname:
            return compile_source(pathname, source)
        path = os.path.join(directory, hashlib.sha256(source).hexdigest() + suffix)
        try:
            with open(path, "rb") as kept:
                # Trusted as much as the venv it lives in, which holds executable code already.
                code = marshal.loads(kept.read())  # noqa: S302
        except (OSError, ValueError, EOFError, TypeError):
            code = None
        if not isinstance(code, CodeType):
            code = compile_source(pathname, source)
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
                partial = f"{path}.{os.getpid()}"
                with open(partial, "wb") as out:
                    out.write(marshal.dumps(code))
                os.replace(partial, path)
            except OSError:
                pass
            return code
        _imp._fix_co_filename(code, pathname)
        return code

    cached_compile_source.runbook_cache = True
    zipimport._compile_source = cached_compile_source
    return True


install()
