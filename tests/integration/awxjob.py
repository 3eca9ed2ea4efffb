"""A job template's run as AWX/Tower makes it, without an AWX server: ansible-runner (AWX's job engine) on a
private data dir laid out as AWX lays it out.

- project/: the project (a link to this checkout, or a plain `git clone` of it for the project-sync test);
- inventory/hosts: an executable printing the inventory as JSON, as AWX's inventory script does;
- env/extravars: the survey answers and launch variables with AWX's own awx_*/tower_* variables, every string
  tagged `!unsafe` as AWX's safe_dump writes them (so that Jinja in an answer is never evaluated);
- envvars (JOB_ID, AWX_HOST, ...), the job's timeout and suppress_ansible_output given to the runner as AWX does;
- ident: the job id; the stdout callback is the runner's awx_display, as in every AWX job.

The job's result is what AWX keeps of it: status, rc, its events, and the artifacts of its playbook_on_stats
event (set_stats with per_host false)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import ansible_runner
import yaml
from stack import BIN, REPO, cost, failed_messages


class _UnsafeDumper(yaml.SafeDumper):
    """AWX's SafeStringDumper (awx/main/utils/safe_yaml.py): every string, key or value, as `!unsafe`."""

    def represent_str(self, data):
        return self.represent_scalar("!unsafe", data, style="'")


_UnsafeDumper.add_representer(str, _UnsafeDumper.represent_str)


def awx_extravars(values: dict) -> str:
    """env/extravars as AWX writes it for a job template whose own extra_vars are empty."""
    return "".join(yaml.dump({key: value}, Dumper=_UnsafeDumper, default_flow_style=False)
                   for key, value in values.items())  # fmt: skip


@dataclass
class Job:
    status: str
    rc: int
    output: str
    events: list[dict] = field(default_factory=list)

    @property
    def artifacts(self) -> dict:
        """The job's artifacts, as AWX reads them from the playbook_on_stats event."""
        stats = [e for e in self.events if e.get("event") == "playbook_on_stats"]
        return (stats[-1].get("event_data", {}).get("artifact_data") or {}) if stats else {}

    def failed_tasks(self) -> list[str]:
        """The msg of each failed task that was not ignored, from the job's events."""
        return failed_messages(self.events)


class Awx:
    """Runs a stack's playbooks as AWX jobs: one private data dir per job under `root`."""

    def __init__(self, stack, root: Path, host: str = "https://awx.example.test"):
        self.stack, self.root, self.host = stack, root, host
        self.root.mkdir(parents=True, exist_ok=True)
        self._inventory_json: str | None = None

    def inventory_json(self) -> str:
        """The stack's inventory as AWX's inventory script prints it (ansible-inventory --list)."""
        if self._inventory_json is None:
            args = [str(BIN / "ansible-inventory"), *self.stack._inventories(), "--list", "--export"]
            out = subprocess.run(args, cwd=REPO, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
                                 capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
            self._inventory_json = out.stdout
        return self._inventory_json

    def launch(self, template: str, job_id: int, answers: dict | None = None, *, extra: dict | None = None,
               **kwargs) -> Job:
        """Launch the job template of awx/controller.yml named `template` with these survey answers (its defaults
        for the rest, as AWX fills them in) and `extra`, the template's own extra variables."""
        spec = job_templates()[template]
        return self.job(spec["playbook"], job_id, {**(extra or {}), **survey_answers(spec, answers or {})},
                        template=template, **kwargs)  # fmt: skip

    def inventory_changed(self) -> None:
        """The stack's inventory was changed: the next job reads it again (as an AWX inventory sync would)."""
        self._inventory_json = None

    def job(self, playbook: str, job_id: int, answers: dict | None = None, *, project: Path = REPO,
            envvars: dict | None = None, **kwargs) -> Job:
        """Launch `playbook` (a path under the project, e.g. playbooks/assess.yml) as AWX job `job_id` against
        the stack's inventory."""
        env = {"RUNBOOK_TIMELINE_DIR": str(self.stack.timelines), **(envvars or {})}
        return launch(self.root, project, playbook, job_id, answers, inventory_json=self.inventory_json(),
                      awx_host=self.host, envvars=env, **kwargs)  # fmt: skip


def private_data_dir(root: Path, project: Path, job_id: int, answers: dict | None, inventory_json: str,
                     template: str = "", user: str = "alice", meta: dict | None = None) -> Path:
    """AWX's private data dir for job `job_id`: project/, inventory/hosts (a script) and env/extravars."""
    pdd = root / f"awx_{job_id}"
    (pdd / "env").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    os.symlink(project, pdd / "project")
    script = pdd / "inventory" / "hosts"
    script.write_text("#!/bin/sh\ncat <<'AWX_INVENTORY'\n" + inventory_json + "\nAWX_INVENTORY\n")
    script.chmod(stat.S_IRWXU)
    awx_vars = {"awx_job_id": job_id, "awx_job_launch_type": "manual", "awx_user_name": user,
                "awx_job_template_name": template or f"job {job_id}", "awx_project_revision": "0" * 40,
                **(meta or {})}  # fmt: skip
    awx_vars.update({"tower_" + key[len("awx_"):]: value for key, value in list(awx_vars.items())})
    (pdd / "env" / "extravars").write_text(awx_extravars({**(answers or {}), **awx_vars}))
    return pdd


def job_env(job_id: int, awx_host: str, envvars: dict | None = None) -> dict:
    """The environment AWX gives a job (awx/main/tasks/jobs.py build_env), with this machine's PATH."""
    return {"JOB_ID": str(job_id), "INVENTORY_ID": "1", "PROJECT_REVISION": "0" * 40, "AWX_HOST": awx_host,
            "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_FORCE_COLOR": "False", "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            **(envvars or {})}  # fmt: skip


def launch(root: Path, project: Path, playbook: str, job_id: int, answers: dict | None = None, *,
           inventory_json: str, awx_host: str = "https://awx.example.test", envvars: dict | None = None,
           timeout: int = 900, **kwargs) -> Job:
    """One AWX job through ansible_runner.run, as AWX calls it (ident, envvars, timeout, no env files)."""
    pdd = private_data_dir(root, project, job_id, answers, inventory_json, **kwargs)
    with cost(f"awx {Path(playbook).stem}") as done:
        runner = ansible_runner.run(
            private_data_dir=str(pdd), playbook=playbook, inventory=str(pdd / "inventory" / "hosts"),
            ident=str(job_id), envvars=job_env(job_id, awx_host, envvars),
            # With suppress_env_files the runner reads no env/settings and drops settings= too: the job's timeout is an
            # argument, and AWX's suppress_ansible_output is what the runner takes from quiet=True then.
            timeout=timeout, suppress_env_files=True, quiet=True,
        )
        done(runner.rc)
    output = runner.stdout.read() if runner.stdout else ""
    return Job(runner.status, runner.rc, output, list(runner.events))


def job_templates() -> dict[str, dict]:
    """awx/controller.yml's job templates by name, rendered as awx/configure.yml renders them."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    loader = DataLoader()
    data = loader.load_from_file(str(REPO / "awx" / "controller.yml"), trusted_as_template=True)
    templates = json.loads(json.dumps(Templar(loader=loader, variables=data).template(data["controller_templates"]),
                                      default=str))  # fmt: skip
    return {t["name"]: t for t in templates}


def survey_answers(template: dict, answers: dict) -> dict:
    """A launch's extra vars as AWX makes them from a survey: the answers given, each checked against its question,
    and every other question's default when it has one (AWX leaves out an empty default)."""
    questions = {q["variable"]: q for q in template["survey_spec"]["spec"]}
    unknown = set(answers) - set(questions)
    assert not unknown, f"{template['name']} asks no {sorted(unknown)}"
    launched = {**{v: q["default"] for v, q in questions.items() if q.get("default") not in (None, "")}, **answers}
    # What AWX refuses at launch (awx/main/models/mixins.py, _survey_element_validation): a required question left
    # unanswered, an answer not among the choices, of the wrong type, or outside min/max.
    for variable, q in questions.items():
        if variable not in launched:
            assert not q.get("required"), f"{template['name']}: {variable} is required"
            continue
        value = launched[variable]
        if q.get("choices"):
            assert value in q["choices"], (template["name"], variable, value)
        elif q["type"] in ("text", "textarea"):
            assert isinstance(value, str) and q.get("min", 0) <= len(value) <= q.get("max", 1024), (variable, value)
        elif q["type"] == "integer":
            assert isinstance(value, int) and q.get("min", value) <= value <= q.get("max", value), (variable, value)
    return launched


def job_line(job: Job, text: str) -> str:
    """The job output's line holding `text` (for messages asserted whole)."""
    lines = [line for line in job.output.splitlines() if text in line]
    assert lines, job.output[-3000:]
    return lines[-1]


def dump(job: Job) -> str:
    return json.dumps({"status": job.status, "rc": job.rc, "artifacts": job.artifacts}, indent=1)[:2000]


class AwxApi:
    """AWX's API as far as the lock asks it (GET /api/v2/jobs/<id>/), on 127.0.0.1: each job's status as the
    test sets it, every request recorded with its Authorization header."""

    def __init__(self, token: str):
        self.token, self.statuses, self.requests = token, {}, []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                api.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                parts = self.path.strip("/").split("/")
                job = parts[3] if len(parts) == 4 and parts[:3] == ["api", "v2", "jobs"] else None
                if self.headers.get("Authorization") != "Bearer " + api.token:
                    code, body = 401, {"detail": "Authentication credentials were not provided."}
                elif job not in api.statuses:
                    code, body = 404, {"detail": "Not found."}
                else:
                    code, body = 200, {"id": int(job), "status": api.statuses[job]}
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def credential_env(self) -> dict:
        """What a credential of the type Red Hat Ansible Automation Platform injects into a job."""
        return {"CONTROLLER_HOST": self.url, "CONTROLLER_OAUTH_TOKEN": self.token, "CONTROLLER_VERIFY_SSL": "false"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
