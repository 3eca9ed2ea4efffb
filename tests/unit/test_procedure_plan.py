"""The plan a procedure gives before the act (-e plan=true): the release, images, services, data, interruption."""

from __future__ import annotations

import pytest

from ansible_collections.runbook.rollback.plugins.filter.plan import procedure_plan
from ansible_collections.runbook.rollback.plugins.plugin_utils.procedure_plan import code_rollback_plan

STAGES = [
    {"name": "data", "data": True, "services": ["postgres", "redis"]},
    {"name": "core", "services": ["auth", "chat"]},
    {"name": "edge", "services": ["gateway"]},
]


def container(service, image, state="running"):
    return {"service": service, "image": image, "state": state}


def run(**changes):
    base = {
        "target": "v1.2.3", "reason": "named with -e version", "current_version": "v1.2.4",
        "commit": "0123456789abcdef", "missing_images": [],
        "containers": [container("postgres", "postgres:16"), container("redis", "redis:7"),
                       container("auth", "app/auth:v1.2.4"), container("chat", "app/chat:v1.2.3"),
                       container("gateway", "app/gateway:v1.2.4")],
        "services": {"postgres": {"image": "postgres:16"}, "redis": {"image": "redis:7"},
                     "auth": {"image": "app/auth:v1.2.3"}, "chat": {"image": "app/chat:v1.2.3"},
                     "gateway": {"image": "app/gateway:v1.2.3"}},
        "stages": STAGES, "data_services": ["postgres", "redis"], "stop_mode": "changed",
        "command": "ansible-playbook playbooks/procedure_a.yml -e version=v1.2.3",
    }  # fmt: skip
    base.update(changes)
    return code_rollback_plan(base)


def line(plan, key):
    return next(text for text in plan["lines"] if text.startswith(key))


def test_the_plan_names_the_release_the_services_and_the_budget():
    plan = run()
    assert plan["services"] == {"keep": ["chat", "postgres", "redis"], "replace": ["auth", "gateway"],
                                "start": [], "remove": []}  # fmt: skip
    assert line(plan, "release") == "release       v1.2.4 -> v1.2.3 (named with -e version), commit 0123456789ab"
    assert line(plan, "recreate") == "recreate      auth, gateway (image differs)"
    assert line(plan, "images") == "images        all built"
    assert line(plan, "data") == ("data          none: the code only; the database and its migrations are left as "
                                  "they are; postgres, redis keep running")  # fmt: skip
    # Only the stages with a recreated service take anything away from users.
    assert line(plan, "interruption").endswith("each back when healthy: core (auth, chat), edge (gateway)")
    assert line(plan, "budget") == "budget        5 min-10 min by the runbook (Procedure A: Code rollback)"
    assert line(plan, "to go ahead").endswith("procedure_a.yml -e version=v1.2.3")


def test_without_stages_every_service_is_one_stage():
    plan = run(stages=[])
    assert line(plan, "interruption").endswith("each back when healthy: all (auth, chat, gateway, postgres, redis)")


def test_a_full_stop_and_missing_images_are_said():
    plan = run(stop_mode="full", missing_images=["app/auth:v1.2.3"])
    assert line(plan, "interruption").startswith("interruption  stop_mode=full: every service stops first")
    assert line(plan, "images") == "images        would build, while v1.2.4 serves: app/auth:v1.2.3"
    assert line(plan, "data").endswith("left as they are")


def test_a_stack_already_on_the_target_has_no_interruption():
    on_target = [container("postgres", "postgres:16"), container("redis", "redis:7"),
                 container("auth", "app/auth:v1.2.3"), container("chat", "app/chat:v1.2.3"),
                 container("gateway", "app/gateway:v1.2.3")]  # fmt: skip
    plan = run(containers=on_target)
    assert line(plan, "interruption") == "interruption  none: every service already runs the target's image"


def test_a_configuration_reloaded_in_place_is_said_and_only_then():
    assert not [text for text in run()["lines"] if text.startswith("reload")]
    assert line(run(reload=["proxy", "edge"]), "reload") == (
        "reload        edge, proxy (its configuration changes: checked, then reloaded in place, not restarted)")


def test_a_stopped_service_is_started_and_an_unknown_one_removed():
    plan = run(containers=[container("postgres", "postgres:16"), container("old", "app/old:v1"),
                           container("auth", "app/auth:v1.2.4", state="exited")])  # fmt: skip
    assert plan["services"]["start"] == ["auth", "chat", "gateway", "redis"]
    assert plan["services"]["remove"] == ["old"]
    assert run(current_version=None)["lines"][0].startswith("release       an unrecorded release -> v1.2.3")


def test_the_filter_refuses_what_it_cannot_plan():
    with pytest.raises(Exception, match="expected a dictionary"):
        procedure_plan(["v1.2.3"])
    with pytest.raises(Exception, match="no plan for procedure 'Z'"):
        procedure_plan({}, "Z")


def test_the_restore_plan_names_the_backup_what_stops_and_what_data_changes():
    backup = {"id": "20261201T100000Z-pre_deploy-v1.3.0", "created_at": "2026-12-01T10:00:00Z",
              "version": "v1.2.3", "size": 4096, "row_counts": {"users": 3, "chats": 2}}  # fmt: skip
    plan = procedure_plan({
        "backup": backup, "backup_reason": "the backup taken before deploying v1.3.0",
        "database": "saas_db", "kept_database": "saas_db_before_rollback_20261201_110000",
        "check": {"space": {"host_free": 1000, "host_needed": 10}},
        "target": "v1.2.3", "reason": "the release the backup was taken on", "current_version": "v1.3.0",
        "commit": "abc", "missing_images": [], "containers": [container("postgres", "postgres:16")],
        "services": {"postgres": {"image": "postgres:16"}, "auth": {"image": "app/auth:v1.2.3"}},
        "data_services": ["postgres", "redis"], "command": "ansible-playbook playbooks/procedure_b.yml -e backup=x",
    }, "B")  # fmt: skip
    assert line(plan, "backup") == ("backup        20261201T100000Z-pre_deploy-v1.3.0 (taken 2026-12-01T10:00:00Z on "
                                    "v1.2.3, 4096 bytes; rows: chats 2, users 3): the backup taken before deploying "
                                    "v1.3.0")  # fmt: skip
    assert line(plan, "stop") == ("stop          auth (the application services, from the swap until their stage is "
                                  "healthy)")  # fmt: skip
    # redis is no service of this target: only the target's data services are said to keep running.
    assert line(plan, "keep running").startswith("keep running  postgres (")
    assert "kept as saas_db_before_rollback_20261201_110000" in line(plan, "data")
    assert "rows written after 2026-12-01T10:00:00Z are exported" in line(plan, "data")
    assert line(plan, "budget").endswith("10 min-20 min by the runbook (Procedure B: Code and database rollback)")


def test_the_restore_plan_tells_the_edge_from_the_data_and_says_the_containers_are_prepared():
    plan = procedure_plan({
        "backup": {"id": "b1"}, "target": "v1.2.3", "containers": [],
        "services": {"postgres": {"image": "postgres:16"}, "proxy": {"image": "haproxy"}, "auth": {"image": "a"}},
        "data_services": ["postgres", "proxy"], "edge_services": ["proxy"], "prepare": True,
    }, "B")  # fmt: skip
    assert line(plan, "keep running") == (
        "keep running  postgres (the database is swapped inside its server); proxy (in front of the application: "
        "users get its answer while the application is away)")  # fmt: skip
    assert line(plan, "prepare").startswith("prepare       the release's containers are created before the stop")
    assert line(plan, "stop").startswith("stop          auth (the application services")
    plan = procedure_plan({"backup": {"id": "b1"}, "services": {"auth": {"image": "a"}}, "prepare": False}, "B")
    assert not [text for text in plan["lines"] if text.startswith("prepare")]


def test_the_single_service_plan_recreates_one_service_and_keeps_the_rest():
    plan = procedure_plan({
        "service": "billing", "reason": "restarting", "from_version": "v1.2.5", "target": "v1.2.3",
        "target_reason": "named with -e version", "current_version": "v1.2.5", "image": "app/billing:v1.2.3",
        "image_missing": True, "done": False, "pins_file": "/state/pins.compose.yml",
        "command": "ansible-playbook playbooks/procedure_c.yml -e service=billing -e version=v1.2.3",
    }, "C")  # fmt: skip
    assert line(plan, "service") == "service       billing (restarting): v1.2.5 -> v1.2.3 (named with -e version)"
    assert line(plan, "image") == ("image         app/billing:v1.2.3 would be rebuilt from the release's tree, while "
                                   "the current containers keep running")  # fmt: skip
    assert line(plan, "recreate") == "recreate      billing alone, pinned to v1.2.3 in /state/pins.compose.yml"
    assert line(plan, "keep running") == "keep running  every other service, on v1.2.5, not restarted"
    done = procedure_plan({"service": "billing", "target": "v1.2.3", "done": True}, "C")
    assert done["lines"][0] == "service       billing is already pinned to v1.2.3 and healthy: nothing to do"


def test_the_shutdown_plan_says_what_stops_what_is_kept_and_that_nothing_is_deleted():
    plan = procedure_plan({
        "project": "shop", "stopped": ["api", "worker"], "kept": ["postgres"], "keep_data": True,
        "mark": "/state/shutdown.json", "evidence": "/state/incidents/inc-1/evidence", "log_max_bytes": 1024,
        "command": "ansible-playbook playbooks/procedure_d.yml -e incident=inc-1 -e keep_data=true",
    }, "D")  # fmt: skip
    assert line(plan, "stop") == ("stop          api, worker (every running container of the project, but the data "
                                  "services)")  # fmt: skip
    assert line(plan, "keep running") == "keep running  postgres (for forensics, -e keep_data=true)"
    assert line(plan, "mark").startswith("mark          /state/shutdown.json: from then on no deploy or rollback")
    assert "into /state/incidents/inc-1/evidence" in line(plan, "evidence")
    assert line(plan, "budget").endswith("1 min by the runbook (Procedure D: Emergency shutdown)")
