"""After the drill: the staging stack runs the good release again, healthy end to end."""

import json
import os

PROJECT = "drill-procedure-a"
GATEWAY = "http://127.0.0.1:18091"
# The drill keeps its stack in molecule's ephemeral directory (see inventory.yml).
STAGING = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "staging")
SERVICES = {
    "postgres", "redis", "auth-service", "chat-service", "billing-service",
    "analytics-service", "email-worker", "api-gateway", "frontend",
}


def _containers(host):
    out = host.check_output(
        "docker ps -a --filter label=com.docker.compose.project=%s --format '{{json .}}'", PROJECT
    )
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _get(host, path):
    code = (
        "import json, urllib.request, sys;"
        "r = urllib.request.urlopen(sys.argv[1], timeout=5);"
        "print(json.dumps({'status': r.status, 'body': json.loads(r.read())}))"
    )
    return json.loads(host.check_output("python3 -c %s %s", code, GATEWAY + path))


def test_every_service_runs_and_is_healthy(host):
    containers = _containers(host)
    by_service = {c["Labels"].split("com.docker.compose.service=")[1].split(",")[0]: c for c in containers}
    assert set(by_service) == SERVICES
    for service, container in by_service.items():
        assert container["State"] == "running", service
        assert "(healthy)" in container["Status"], f"{service}: {container['Status']}"


def test_gateway_and_services_report_the_good_release(host):
    for path in ("/health", "/api/auth/health", "/api/chats/health", "/api/billing/health", "/api/analytics/health"):
        answer = _get(host, path)
        assert answer["status"] == 200, path
        assert answer["body"]["version"] == "v1.2.3", path


def test_work_tree_is_at_the_good_release(host):
    tag = host.check_output("git -C %s describe --tags --exact-match HEAD", STAGING + "/app")
    assert tag == "v1.2.3"


def test_history_records_the_rollback(host):
    lines = host.file(STAGING + "/state/deployments.jsonl").content_string.splitlines()
    last = json.loads(lines[-1])
    assert (last["version"], last["action"], last["result"]) == ("v1.2.3", "rollback", "verified")
