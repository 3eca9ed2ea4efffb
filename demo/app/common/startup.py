"""What a DB-backed service does before it serves: wait for PostgreSQL, then migrate."""

import sys

from common import config, db, log, migrate


def prepare(service, needs_db=True):
    log.setup(service)
    log.info("starting", version=config.version())
    if not needs_db:
        return
    try:
        db.wait_until_up()
        applied = migrate.up()
        if applied:
            log.info("migrations applied", versions=applied)
    except Exception as exc:
        # Exit non-zero so the restart policy tries again.
        log.error("startup failed", error=exc.__class__.__name__, detail=str(exc)[:300])
        sys.exit(1)
