"""What the drills' testinfra checks share: where a drill keeps its stack and state, and how they are read
on the drill's host (molecule/conftest.py puts this directory on the import path)."""

import json
import os

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
# Each drill keeps its stack in molecule's ephemeral directory (its inventory.yml says so), or on a host of its
# own where its molecule.yml says (DRILL_STAGING).
STAGING = os.environ.get("DRILL_STAGING") or os.path.join(EPHEMERAL, "staging")
STATE = os.path.join(STAGING, "state")
INCIDENTS = os.path.join(STATE, "incidents")
# On this machine (the controller) whatever the drill's host: the timelines, and a host of its own's reports
# and users' traffic.
TIMELINES = os.path.join(EPHEMERAL, "timelines")
REPORTS = os.path.join(EPHEMERAL, "incidents")
TRAFFIC = os.path.join(EPHEMERAL, "traffic")
SERVICES = {
    "postgres", "redis", "auth-service", "chat-service", "billing-service",
    "analytics-service", "email-worker", "api-gateway", "frontend", "proxy",
}  # fmt: skip
DATA_SERVICES = ("postgres", "redis")


def read_json(host, path):
    return json.loads(host.file(path).content_string)


def history(host):
    """The deployment history's entries, oldest first."""
    lines = host.file(STATE + "/deployments.jsonl").content_string.splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def containers(host, project):
    """Service -> `docker inspect` of its container, for every container of the project."""
    ids = host.check_output("docker ps -aq --filter label=com.docker.compose.project=%s", project).split()
    if not ids:
        return {}
    # Container ids are hexadecimal: safe to join into the command line.
    inspected = json.loads(host.check_output("docker inspect " + " ".join(ids)))
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in inspected}


def get(host, url):
    """{"status", "body"} of a GET made on the drill's host."""
    code = (
        "import json, urllib.request, sys;"
        "r = urllib.request.urlopen(sys.argv[1], timeout=5);"
        "print(json.dumps({'status': r.status, 'body': json.loads(r.read())}))"
    )
    return json.loads(host.check_output("python3 -c %s %s", code, url))


def files(host, directory, suffix):
    """The directory's files ending in suffix, oldest first (their names start with a UTC timestamp)."""
    names = host.check_output("ls -1 %s", directory).splitlines()
    return [os.path.join(directory, name) for name in sorted(names) if name.endswith(suffix)]


def here_json(path):
    """A JSON file of this machine (the controller)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def here_files(directory, suffix):
    """This machine's files of the directory ending in suffix, oldest first (names start with a UTC timestamp)."""
    return [os.path.join(directory, name) for name in sorted(os.listdir(directory)) if name.endswith(suffix)]
