"""The shop's worker: says it is alive every second; a release with CRASH exits at startup."""

import pathlib
import signal
import sys
import time

RELEASE = "dev"
CRASH = False

# PID 1 of its container: without a handler SIGTERM would be ignored, and every stop would wait for SIGKILL.
signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
if CRASH:
    print("worker %s: cannot start" % RELEASE, flush=True)
    sys.exit(1)
print("worker %s started" % RELEASE, flush=True)
while True:
    pathlib.Path("/tmp/alive").write_text(RELEASE)
    time.sleep(1)
