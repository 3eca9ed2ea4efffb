"""What an AWX administrator imports, checked without an AWX server: awx/controller.yml rendered as
awx/configure.yml renders it, each entry validated against the awx.awx module's own argument spec, every
survey against the rules AWX applies when a survey is saved (awx/api/views: JobTemplateSurveySpec), the
credential types against AWX's schema for inputs and injectors; the execution environment's build context
made by ansible-builder; and a project sync of a plain clone resolving the collection's roles."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": (float, int)}  # fmt: skip


@pytest.fixture(scope="module")
def config() -> dict:
    """awx/controller.yml with its own variables rendered, as the configure playbook sees it."""
    loader = DataLoader()
    data = loader.load_from_file(str(REPO / "awx" / "controller.yml"), trusted_as_template=True)
    templar = Templar(loader=loader, variables=data)
    keys = ("controller_credential_types", "controller_projects", "controller_templates", "controller_workflows",
            "controller_schedules", "runbook_awx_staging")
    return {key: templar.template(data[key]) for key in keys}


def plain(value):
    """Ansible's tagged values as plain Python ones."""
    return json.loads(json.dumps(value, default=str))


def survey_errors(spec: dict) -> list[str]:
    """What AWX refuses when this survey_spec is saved (the checks of JobTemplateSurveySpec._validate_spec_data,
    in their order), and defaults it would drop at launch (outside min/max)."""
    errors = []
    if not isinstance(spec.get("name"), str):
        errors.append("'name' missing or not a string")
    if not isinstance(spec.get("description"), str):
        errors.append("'description' missing or not a string")
    items = spec.get("spec")
    if not isinstance(items, list) or not items:
        return errors + ["'spec' must be a list with items"]
    seen = set()
    for idx, q in enumerate(items):
        if not isinstance(q, dict):
            errors.append(f"question {idx} is not an object")
            continue
        for key, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if not isinstance(q.get(key), kind):
                errors.append(f"question {idx}: '{key}' missing or not {kind.__name__}")
        variable = q.get("variable")
        if variable in seen:
            errors.append(f"question {idx}: variable {variable!r} duplicated")
        seen.add(variable)
        qtype = q.get("type")
        if qtype not in SURVEY_TYPES:
            errors.append(f"question {idx}: type {qtype!r} is not an AWX question type")
            continue
        if "default" in q and q["default"] != "":
            default = q["default"]
            if default is None or isinstance(default, list) or not isinstance(default, SURVEY_TYPES[qtype]) or (
                    qtype == "integer" and isinstance(default, bool)):  # fmt: skip
                errors.append(f"question {idx}: default {default!r} is not a {qtype} default")
            elif isinstance(default, str) and default.startswith("$encrypted$"):
                errors.append(f"question {idx}: $encrypted$ is reserved")
        for limit in ("min", "max"):
            if limit in q and q[limit] is not None and (not isinstance(q[limit], int) or isinstance(q[limit], bool)):
                errors.append(f"question {idx}: {limit} must be an integer")
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in q:
                errors.append(f"question {idx}: a {qtype} question must have choices")
                continue
            choices = q["choices"]
            if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
                errors.append(f"question {idx}: choices must be a list of words")
            default = q.get("default", "")
            lines = [line for line in str(default).split("\n") if line.strip()] if default != "" else []
            if qtype == "multiplechoice" and len(lines) > 1:
                errors.append(f"question {idx}: a single choice has one default")
            if any(line not in choices for line in lines):
                errors.append(f"question {idx}: default {default!r} is not one of the choices")
        # AWX accepts these when saving, then drops the default at launch: refused here.
        default = q.get("default")
        if qtype in ("text", "textarea", "password") and isinstance(default, str) and default:
            if len(default) < q.get("min", 0) or ("max" in q and len(default) > q["max"]):
                errors.append(f"question {idx}: default outside min/max")
        if qtype in ("integer", "float") and isinstance(default, (int, float)) and default != "":
            if ("min" in q and default < q["min"]) or ("max" in q and default > q["max"]):
                errors.append(f"question {idx}: default outside min/max")
        if q.get("required") and "default" not in q and qtype in ("text", "textarea") and q.get("min", 0) == 0:
            errors.append(f"question {idx}: required with min 0 accepts an empty answer")
    return errors


@pytest.mark.parametrize("bad, said", [
    ({"name": "x", "description": None, "spec": [{}]}, "'description'"),
    ({"name": "x", "description": "", "spec": []}, "'spec' must be a list with items"),
    ({"name": "x", "description": "", "spec": [{"type": "text", "question_name": "q", "variable": "v",
                                                 "required": "true"}]}, "'required'"),
    ({"name": "x", "description": "", "spec": [{"type": "multiplechoice", "question_name": "q", "variable": "v",
                                                 "required": True, "choices": ["a", "b"], "default": "c"}]},
     "not one of the choices"),
    ({"name": "x", "description": "", "spec": [{"type": "integer", "question_name": "q", "variable": "v",
                                                 "required": True, "default": None}]}, "not a integer default"),
    ({"name": "x", "description": "", "spec": [{"type": "text", "question_name": "q", "variable": "v",
                                                 "required": True, "min": 0.5}]}, "min must be an integer"),
    ({"name": "x", "description": "", "spec": [{"type": "text", "question_name": "q", "variable": "v",
                                                 "required": True},
                                                {"type": "text", "question_name": "r", "variable": "v",
                                                 "required": True}]}, "duplicated"),
])  # fmt: skip
def test_the_survey_rules_refuse_what_awx_refuses(bad, said):
    assert any(said in error for error in survey_errors(bad)), survey_errors(bad)


def test_every_survey_passes_awxs_rules_and_asks_only_what_its_playbook_takes(config):
    command_line = (REPO / "playbooks" / "vars" / "command_line.yml").read_text()
    specs = "".join(p.read_text() for p in REPO.glob("roles/*/meta/argument_specs.yml"))
    for template in plain(config["controller_templates"]):
        assert template["survey_enabled"] and survey_errors(template["survey_spec"]) == [], template["name"]
        playbook = (REPO / template["playbook"]).read_text()
        for question in template["survey_spec"]["spec"]:
            # An unprefixed extra var is read in command_line.yml (or by the playbook itself) as `<word> | default`,
            # or is a role's documented option (its argument spec).
            word = re.escape(question["variable"])
            read = re.compile(r"\b%s \| default\(" % word)
            documented = re.search(r"^\s+%s:" % word, specs, re.M)
            assert read.search(command_line) or read.search(playbook) or documented, (template["name"], word)


def argument_spec(module: str) -> tuple[dict, dict]:
    """(argument spec, AnsibleModule keyword arguments) of an awx.awx module, with the connection options every
    controller module adds, taken from the module itself."""
    import importlib

    from ansible_collections.awx.awx.plugins.module_utils.controller_api import ControllerModule

    mod = importlib.import_module(f"ansible_collections.awx.awx.plugins.modules.{module}")
    captured = {}

    class Captured(Exception):
        pass

    class Stand(mod.ControllerAPIModule):
        def __init__(self, argument_spec, **kwargs):
            captured.update(spec=argument_spec, kwargs=kwargs)
            raise Captured

    original, mod.ControllerAPIModule = mod.ControllerAPIModule, Stand
    try:
        mod.main()
    except Captured:
        pass
    finally:
        mod.ControllerAPIModule = original
    return {**ControllerModule.AUTH_ARGSPEC, **captured["spec"]}, captured["kwargs"]


@pytest.mark.parametrize("key, module", [("controller_credential_types", "credential_type"),
                                         ("controller_projects", "project"),
                                         ("controller_templates", "job_template"),
                                         ("controller_workflows", "workflow_job_template"),
                                         ("controller_schedules", "schedule")])  # fmt: skip
def test_the_configuration_passes_the_awx_modules_argument_specs(config, key, module):
    spec, kwargs = argument_spec(module)
    keep = {k: v for k, v in kwargs.items() if k in ("mutually_exclusive", "required_if", "required_together",
                                                     "required_one_of", "required_by")}  # fmt: skip
    validator = ArgumentSpecValidator(spec, **keep)
    for entry in plain(config[key]):
        result = validator.validate(entry)
        assert not result.error_messages, (entry["name"], result.error_messages)
        assert not result.unsupported_parameters, (entry["name"], result.unsupported_parameters)


def test_the_drill_is_scheduled_every_quarter_on_staging_with_answers_its_survey_takes(config):
    from dateutil import rrule

    (schedule,) = plain(config["controller_schedules"])
    (template,) = [t for t in plain(config["controller_templates"]) if t["name"] == schedule["unified_job_template"]]
    assert template["playbook"] == "playbooks/drill.yml" and template["inventory"] == config["runbook_awx_staging"]
    # As AWX reads a schedule's rule (awx/main/models/schedules.py): DTSTART, then the RRULE.
    start, rule = schedule["rrule"].split(" ", 1)
    dates = list(rrule.rrulestr(schedule["rrule"].replace(" ", "\n"), forceset=True)[:3])
    # AWX refuses a DTSTART with no time zone: UTC (Z) or a TZID.
    assert re.fullmatch(r"DTSTART(:\d{8}T\d{6}Z|;TZID=[\w/+-]+:\d{8}T\d{6})", start), start
    assert rule == "RRULE:FREQ=MONTHLY;INTERVAL=3"
    assert [(d.month - dates[0].month) % 12 for d in dates] == [0, 3, 6], dates
    # A schedule's extra data must answer its template's survey (ask_variables_on_launch is false).
    asked = {q["variable"] for q in template["survey_spec"]["spec"]}
    assert set(schedule["extra_data"]) <= asked and not template["ask_variables_on_launch"]


INPUTS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "required": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "label"],
            "properties": {
                "type": {"enum": ["string", "boolean"]}, "format": {"enum": ["ssh_private_key", "url"]},
                "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
                "id": {"type": "string", "pattern": "^[a-zA-Z_]+[a-zA-Z0-9_]*$"}, "label": {"type": "string"},
                "help_text": {"type": "string"}, "multiline": {"type": "boolean"}, "secret": {"type": "boolean"},
                "ask_at_runtime": {"type": "boolean"}, "default": {}}}}},
}  # fmt: skip
INJECTORS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {"extra_vars": {"type": "object", "additionalProperties": False, "patternProperties": {
        r"^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$": {"anyOf": [{"type": "string"}, {"type": "array"},
                                                        {"$ref": "#/properties/extra_vars"}]}}}},
}  # fmt: skip
# What the collection reads of each setting (plugins/plugin_utils/notify_plan.py, roles/backup/tasks/s3.yml).
READ = {"rollback_notify_slack": {"webhook_url", "channel"},
        "rollback_notify_statuspage": {"page_id", "api_key", "api_url", "components"},
        "rollback_notify_pagerduty": {"routing_key", "events_url"},
        "rollback_notify_webhook": {"url", "headers"},
        "rollback_backup_s3": {"bucket", "prefix", "region", "endpoint_url", "access_key", "secret_key",
                               "encrypt"}}  # fmt: skip


def test_the_credential_types_inject_the_settings_as_awx_would(config):
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)

    def render(node, values):
        if isinstance(node, dict):
            return {render(k, values): render(v, values) for k, v in node.items()}
        if isinstance(node, list):
            return [render(v, values) for v in node]
        return env.from_string(node).render(values)

    injected = {}
    for ctype in plain(config["controller_credential_types"]):
        jsonschema.validate(ctype["inputs"], INPUTS_SCHEMA)
        jsonschema.validate(ctype["injectors"], INJECTORS_SCHEMA)
        fields = {f["id"]: f for f in ctype["inputs"]["fields"]}
        assert set(ctype["inputs"].get("required", [])) <= set(fields), ctype["name"]
        assert all(type(f.get("default", "")) is str for f in fields.values()), ctype["name"]
        # Every template names a field of the type (AWX renders them with StrictUndefined when saving).
        values = {name: f"<{name}>" for name in fields}
        out = render(ctype["injectors"]["extra_vars"], values)
        (name, setting), = out.items()
        assert set(setting) <= READ[name], (name, setting)
        # A secret goes only where the collection sends it with no_log, never into a name or a URL of its own.
        for field in (f for f in fields.values() if f.get("secret")):
            assert f"<{field['id']}>" in json.dumps(setting), (ctype["name"], field["id"])
        injected[name] = setting
    assert set(injected) == set(READ)


def test_the_workflow_hands_the_decision_on_and_asks_nothing_assess_sets(config):
    templates = {t["name"]: t for t in plain(config["controller_templates"])}
    (workflow,) = plain(config["controller_workflows"])
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    # A workflow survey would win over the assess job's artifacts of the same name.
    assert workflow["survey_enabled"] is False and "survey_spec" not in workflow
    approval = nodes["approve"]["unified_job_template"]
    assert approval["type"] == "workflow_approval" and approval["timeout"] > 0
    order = [nodes["assess"], nodes["approve"], nodes["rollback"]]
    assert [n["related"]["success_nodes"] for n in order[:2]] == [[{"identifier": "approve"}],
                                                                  [{"identifier": "rollback"}]]  # fmt: skip
    for node in nodes.values():
        ujt = node["unified_job_template"]
        if ujt["type"] == "workflow_approval":
            continue
        template = templates[ujt["name"]]
        asked = {q["variable"] for q in template["survey_spec"]["spec"]}
        # A node's extra data reaches its job only through the template's survey (no prompt on launch).
        assert set(node.get("extra_data", {})) <= asked, node["identifier"]
        for linked in node.get("related", {}).values():
            assert all(link["identifier"] in nodes for link in linked)
    assert templates[nodes["assess"]["unified_job_template"]["name"]]["playbook"] == "playbooks/assess.yml"
    assert templates[nodes["rollback"]["unified_job_template"]["name"]]["playbook"] == "playbooks/auto.yml"


def test_ansible_builder_writes_the_execution_environments_build_context(tmp_path):
    build = tmp_path / "repo"
    shutil.copy(REPO / "execution-environment.yml", tmp_path / "execution-environment.yml")
    tarballs = tmp_path / ".ee"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(tarballs),
                    str(REPO)], check=True, capture_output=True, text=True, timeout=120)  # fmt: skip
    (built,) = tarballs.glob("runbook-rollback-*.tar.gz")
    built.rename(tarballs / "runbook-rollback.tar.gz")
    out = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c",
                          str(build), "--output-filename", "Containerfile"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    containerfile = (build / "Containerfile").read_text()
    assert "quay.io/centos/centos:stream9" in containerfile and "ansible-galaxy collection install" in containerfile
    assert (build / "_build" / "collection" / "runbook-rollback.tar.gz").is_file()
    galaxy = yaml.safe_load((build / "_build" / "requirements.yml").read_text())
    assert "/build/collection/runbook-rollback.tar.gz" in [c["name"] for c in galaxy["collections"]]
    assert "COPY _build /build" in containerfile
    # What builder will install for the collection once it is in the image: its runtime needs, not the tests'.
    installed = tmp_path / "collections"
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(installed),
                    str(tarballs / "runbook-rollback.tar.gz")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    seen = subprocess.run([str(BIN / "ansible-builder"), "introspect", "--sanitize", str(installed)],
                          capture_output=True, text=True, timeout=120, check=True).stdout  # fmt: skip
    needs = yaml.safe_load(seen)
    ours = {kind: [re.split(r"[<>=\s]", line)[0] for line in needs[kind] if "from collection runbook.rollback" in line]
            for kind in ("python", "system")}  # fmt: skip
    assert ours == {"python": ["boto3", "botocore", "requests"],
                    "system": ["openssh-clients", "openssh-client", "git"]}  # fmt: skip
    # Nothing of requirements.txt's test tools.
    assert not {"pytest", "molecule", "ruff", "ansible-lint", "moto"} & {
        re.split(r"[<>=\s]", line)[0] for line in needs["python"]}  # fmt: skip


def test_a_plain_clone_synced_as_awx_syncs_a_project_resolves_every_role(tmp_path):
    clone = tmp_path / "project"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    assert not (clone / ".collections").exists()
    # AWX's project update: ansible-galaxy collection install -r collections/requirements.yml in the project's
    # root, into the cache that each job then gets as requirements_collections (AWX names it in
    # ANSIBLE_COLLECTIONS_PATHS, which ansible-core reads as ANSIBLE_COLLECTIONS_PATH before 2.19).
    cache = tmp_path / "requirements_collections"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATHS=str(cache), ANSIBLE_COLLECTIONS_PATH=str(cache), ANSIBLE_FORCE_COLOR="false",
               PATH=f"{BIN}:{env['PATH']}")  # fmt: skip
    out = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "-r", "collections/requirements.yml"],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    installed = cache / "ansible_collections" / "runbook" / "rollback"
    assert (installed / "roles" / "procedure").is_dir() and not (installed / "demo").exists()
    # Every role the playbooks name, statically or not, is in what the sync installed.
    named = set()
    for path in (clone / "playbooks").rglob("*.yml"):
        named |= set(re.findall(r"runbook\.rollback\.([a-z_]+)", path.read_text()))
    for path in (clone / "roles").rglob("*.yml"):
        named |= set(re.findall(r"name: runbook\.rollback\.([a-z_]+)$", path.read_text(), re.M))
    roles = {p.name for p in (installed / "roles").iterdir()}
    plugins = {p.stem for p in (installed / "plugins").rglob("*") if p.suffix in (".py", ".yml")}
    assert named - roles - plugins == set()
    # A job's private data dir as AWX makes it from the synced project: the clone, the cache as
    # requirements_collections, ANSIBLE_COLLECTIONS_PATHS first on it; ansible-runner checks every playbook.
    import ansible_runner

    pdd = tmp_path / "awx_7"
    (pdd / "inventory").mkdir(parents=True)
    (pdd / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    shutil.copytree(clone, pdd / "project", symlinks=True)
    shutil.copytree(cache, pdd / "requirements_collections")
    playbooks = sorted((clone / "playbooks").glob("*.yml"))
    (pdd / "project" / "every_playbook.yml").write_text(
        "".join(f"- ansible.builtin.import_playbook: playbooks/{p.name}\n" for p in playbooks))
    runner = ansible_runner.run(
        private_data_dir=str(pdd), playbook="every_playbook.yml", ident="7", cmdline="--syntax-check", quiet=True,
        envvars={"JOB_ID": "7", "ANSIBLE_COLLECTIONS_PATHS": str(pdd / "requirements_collections"),
                 "ANSIBLE_COLLECTIONS_PATH": str(pdd / "requirements_collections"), "PATH": env["PATH"]},
        settings={"suppress_ansible_output": True}, suppress_env_files=True,
    )  # fmt: skip
    output = runner.stdout.read()
    assert (runner.status, runner.rc) == ("successful", 0), output[-3000:]
