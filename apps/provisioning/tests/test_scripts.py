"""Scripts on instances through the API, against cloudsim's Cloud Assistant: the saved-script library
(parameters checked against placeholders, versions, audit), runs on several instances (each instance's
output and exit code, the operation's outcome, stopping, a step run twice), and what is refused: bad
input naming the field with no cloud call and no write, another organization's instance (404), a
person without ``ecs:instance:command`` (403), another organization's scripts and runs (404)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.clouds.adapters import adapter_for
from apps.clouds.simulated import _wait, sim_adapter
from apps.core.models import Operation
from apps.provisioning import scripts
from apps.provisioning.models import Script, ScriptRun, ScriptRunTarget, ScriptVersion
from apps.resources.models import Resource
from apps.resources.services import resource_refresh
from apps.security.models import AuditEntry
from tests import factories as f

IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"
SCRIPTER = ("ecs:instance:read", "ecs:instance:command", "resources:resource:read", "provisioning:script:*",
            "core:operation:*", "menu:*")


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def team(world):
    """A person who may run scripts in HQ, one who may only read there, and an outsider who runs scripts
    in another organization."""
    runner = f.user("runner", world["hq"])
    reader = f.user("reader", world["hq"])
    f.grant(f.role(*SCRIPTER, key="scripter"), runner, world["hq"])
    f.grant(f.role("ecs:instance:read", "resources:resource:read", "provisioning:script:read", "core:operation:*",
                   key="script_reader"), reader, world["hq"])
    f.grant(f.role(*SCRIPTER, key="outside_scripter"), world["outsider"], world["other"])
    return {"runner": runner, "reader": reader}


def instance(world, *, org=None, project=None, name="web") -> Resource:
    """A running instance created in cloudsim and collected into the inventory of ``org`` (HQ)."""
    cloud = sim_adapter(world["platform"].endpoint)
    iid = cloud.create("ecs.instance", "cn-hangzhou", {
        "instance_type": "ecs.g6.large", "image_id": IMAGE, "vswitch_id": world["vswitch"],
        "security_group_id": world["security_group"], "name": name})
    _wait(cloud, "ecs.instance", "cn-hangzhou", iid, {"running"})
    row = resource_refresh(platform=world["platform"], resource_type="ecs.instance", region="cn-hangzhou",
                           external_id=iid, adapter=adapter_for(world["platform"]))
    Resource.objects.filter(pk=row.pk).update(organization=org or world["hq"], project=project or world["project"])
    row.refresh_from_db()
    return row


def drive(run_id: str, timeout: float = 20.0) -> ScriptRun:
    """Run a script run's steps in this process, as a worker would."""
    step = ScriptRun.objects.values_list("step", flat=True).get(pk=run_id) + 1
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        more, delay, step = scripts.script_run_step(run_id=run_id, step=step)
        if not more:
            return ScriptRun.objects.select_related("operation").get(pk=run_id)
        time.sleep(min(delay, 0.05))
    raise TimeoutError(run_id)


def run_commands(control) -> int:
    return control.get("/stats")["calls"].get("RunCommand", 0)


def save(client: APIClient, world, **body: Any):
    payload = {"project": str(world["project"].pk), "name": "health", "language": "shell",
               "content": "hostname\nsystemctl is-active {{service}}",
               "parameters": [{"name": "service", "description": "unit", "default": "nginx", "required": True}],
               **body}
    return client.post("/api/v1/provisioning/scripts/", payload, format="json")


# -- the library ------------------------------------------------------------------------------------

def test_a_saved_script_is_versioned_on_each_change_and_every_change_is_audited(
        world, team, django_capture_on_commit_callbacks):
    client = api(team["runner"])
    with django_capture_on_commit_callbacks(execute=True):
        created = save(client, world)
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["version"], body["placeholders"], body["project"]) == (1, ["service"], str(world["project"].pk))
    with django_capture_on_commit_callbacks(execute=True):
        changed = client.patch(f"/api/v1/provisioning/scripts/{body['id']}/",
                               {"content": "hostname\nuptime\nsystemctl is-active {{service}}"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["version"] == 2
    versions = client.get(f"/api/v1/provisioning/scripts/{body['id']}/versions/").json()["results"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["content"] == "hostname\nsystemctl is-active {{service}}"
    assert versions[0]["changed_by"] == "runner"
    actions = set(AuditEntry.objects.filter(target_id=body["id"]).values_list("action", flat=True))
    assert {"script.created", "script.updated"} <= actions
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/v1/provisioning/scripts/{body['id']}/").status_code == 204
    assert "script.deleted" in set(AuditEntry.objects.filter(target_id=body["id"]).values_list("action", flat=True))


@pytest.mark.parametrize(("change", "field"), [
    ({"content": "echo {{undeclared}}", "parameters": []}, "content"),
    ({"content": "hostname", "parameters": [{"name": "unused"}]}, "parameters"),
    ({"content": "   "}, "content"),
    ({"content": "echo x\n" * 2000}, "content"),
    ({"language": "python"}, "language"),
    ({"timeout_seconds": 5}, "timeout_seconds"),
    ({"name": ""}, "name"),
    ({"parameters": [{"name": "service", "default": 3}]}, "parameters[0].default"),
])
def test_a_bad_script_is_refused_naming_the_field_and_nothing_is_saved(world, team, change, field):
    response = save(api(team["runner"]), world, **change)
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert not Script.objects.exists() and not ScriptVersion.objects.exists()


def test_a_reader_may_not_save_and_another_organizations_scripts_are_not_found(world, team):
    refused = save(api(team["reader"]), world)
    assert refused.status_code == 400 and "project" in refused.json()["detail"]
    assert not Script.objects.exists()
    own = save(api(team["runner"]), world).json()
    outsider = api(world["outsider"])
    assert outsider.get(f"/api/v1/provisioning/scripts/{own['id']}/").status_code == 404
    assert outsider.get("/api/v1/provisioning/scripts/").json()["results"] == []
    assert outsider.patch(f"/api/v1/provisioning/scripts/{own['id']}/", {"name": "x"},
                          format="json").status_code == 404
    reader = api(team["reader"])
    assert reader.get(f"/api/v1/provisioning/scripts/{own['id']}/").status_code == 200
    assert reader.patch(f"/api/v1/provisioning/scripts/{own['id']}/", {"name": "x"},
                        format="json").status_code == 403
    assert Script.objects.get(pk=own["id"]).name == "health"


# -- runs -------------------------------------------------------------------------------------------

def test_a_saved_script_runs_on_two_instances_and_each_output_and_exit_code_is_kept(
        world, team, control, django_capture_on_commit_callbacks):
    a, b = instance(world, name="web-1"), instance(world, name="web-2")
    client = api(team["runner"])
    script = save(client, world).json()
    before = run_commands(control)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        started = client.post("/api/v1/provisioning/script-runs/", {
            "script": script["id"], "instances": [a.pk, b.pk], "parameters": {"service": "httpd"},
            "comment": "check"}, format="json")
    for callback in queued[:-1]:  # the announcements (audited); the last one queues the first step
        callback()
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["operation"]["kind"] == "ecs.instance.command" and body["parameters"] == {"service": "httpd"}
    assert {t["status"] for t in body["targets"]} == {"queued"}
    with django_capture_on_commit_callbacks(execute=True):
        run = drive(body["id"])
    assert run.operation.status == Operation.Status.SUCCEEDED, run.operation.error
    assert run_commands(control) == before + 1  # one platform, one region: one cloud call
    detail = client.get(f"/api/v1/provisioning/script-runs/{body['id']}/").json()
    for target in detail["targets"]:
        assert (target["status"], target["exit_code"]) == ("success", 0)
        assert target["output"].endswith("active\n") and target["finished_at"]
    assert {t["instance_id"] for t in detail["targets"]} == {a.external_id, b.external_id}
    actions = list(AuditEntry.objects.filter(target_id=body["id"]).values_list("action", flat=True))
    assert "script_run.started" in actions and "script_run.finished" in actions
    started_entry = AuditEntry.objects.get(target_id=body["id"], action="script_run.started")
    assert started_entry.detail["actor"] == "runner" and started_entry.detail["instances"] == [a.pk, b.pk]
    assert client.get("/api/v1/provisioning/script-runs/").json()["results"][0]["counts"] == {"success": 2}


def test_a_non_zero_exit_fails_the_run_and_keeps_the_exit_code_and_output(world, team, control):
    a = instance(world)
    client = api(team["runner"])
    body = client.post("/api/v1/provisioning/script-runs/", {
        "content": "echo checking\nexit 3", "language": "shell", "instances": [a.pk]}, format="json").json()
    run = drive(body["id"])
    assert run.operation.status == Operation.Status.FAILED
    target = ScriptRunTarget.objects.get(run=run)
    assert (target.status, target.exit_code, target.error_code, target.output) == \
        ("failed", 3, "ExitCodeNonzero", "checking\n")
    assert "exit 3" in run.operation.error


def test_an_ad_hoc_scripts_placeholders_are_its_required_parameters(world, team, control):
    a = instance(world)
    client = api(team["runner"])
    missing = client.post("/api/v1/provisioning/script-runs/", {
        "content": "echo {{greeting}}", "instances": [a.pk]}, format="json")
    assert missing.status_code == 400 and "parameters.greeting" in missing.json()["detail"]
    body = client.post("/api/v1/provisioning/script-runs/", {
        "content": "echo {{greeting}}",
        "instances": [a.pk], "parameters": {"greeting": "hello"}}, format="json").json()
    drive(body["id"])
    assert ScriptRunTarget.objects.get(run_id=body["id"]).output == "hello\n"


@pytest.mark.parametrize(("body", "field"), [
    ({"content": ""}, "content"),
    ({"content": "echo x\n" * 2000}, "content"),
    ({"content": "hostname", "instances": []}, "instances"),
    ({"content": "hostname", "instances": [f"res-{n:028x}" for n in range(51)]}, "instances"),
    ({"content": "hostname", "parameters": {"nope": "1"}}, "parameters.nope"),
    ({"content": "hostname", "timeout_seconds": 3}, "timeout_seconds"),
    ({"content": "hostname", "language": "cobol"}, "language"),
    ({"script": "scr-00000000000000000000"}, "script"),
    ({}, "script"),
    ({"script": "scr-00000000000000000000", "content": "hostname"}, "script"),
])
def test_bad_input_is_refused_naming_the_field_with_no_cloud_call_and_no_write(world, team, control, body, field):
    a = instance(world)
    before, runs, ops = run_commands(control), ScriptRun.objects.count(), Operation.objects.count()
    payload = {"instances": [a.pk], **body}
    response = api(team["runner"]).post("/api/v1/provisioning/script-runs/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert (run_commands(control), ScriptRun.objects.count(), Operation.objects.count()) == (before, runs, ops)


def test_a_stopped_instance_is_refused_before_any_cloud_call(world, team, control):
    a, b = instance(world, name="up"), instance(world, name="down")
    Resource.objects.filter(pk=b.pk).update(status="stopped")
    before = run_commands(control)
    response = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [a.pk, b.pk]}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "instance_not_running" and b.pk in str(response.json()["detail"])
    assert run_commands(control) == before and not ScriptRun.objects.exists()


def test_another_organizations_instance_is_not_found_and_without_the_permission_it_is_forbidden(world, team,
                                                                                                control):
    ours = instance(world)
    theirs = instance(world, org=world["other"], project=world["foreign_project"], name="theirs")
    before = run_commands(control)
    outsider = api(world["outsider"])
    refused = outsider.post("/api/v1/provisioning/script-runs/", {"content": "hostname", "instances": [ours.pk]},
                            format="json")
    assert refused.status_code == 404, refused.content
    mixed = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [ours.pk, theirs.pk]}, format="json")
    assert mixed.status_code == 404
    forbidden = api(team["reader"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [ours.pk]}, format="json")
    assert forbidden.status_code == 403 and forbidden.json()["detail"]["permission"] == "ecs:instance:command"
    assert run_commands(control) == before and not ScriptRun.objects.exists()
    picker = api(team["reader"]).get("/api/v1/provisioning/script-instances/").json()["results"]
    assert picker == []  # the reader may run scripts nowhere
    assert [i["id"] for i in api(team["runner"]).get("/api/v1/provisioning/script-instances/").json()["results"]] \
        == [ours.pk]


def test_a_run_is_not_visible_to_another_organization(world, team, control):
    a = instance(world)
    body = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [a.pk]}, format="json").json()
    outsider = api(world["outsider"])
    assert outsider.get(f"/api/v1/provisioning/script-runs/{body['id']}/").status_code == 404
    assert outsider.post(f"/api/v1/provisioning/script-runs/{body['id']}/stop/").status_code == 404
    assert outsider.get("/api/v1/provisioning/script-runs/").json()["results"] == []
    assert api(team["reader"]).get(f"/api/v1/provisioning/script-runs/{body['id']}/").status_code == 200


def test_stop_ends_the_script_where_it_still_runs(world, team, control):
    a = instance(world)
    client = api(team["runner"])
    body = client.post("/api/v1/provisioning/script-runs/", {
        "content": "echo started\nsleep 60\necho never", "instances": [a.pk], "timeout_seconds": 120},
        format="json").json()
    run_id = body["id"]
    more, _delay, step = scripts.script_run_step(run_id=run_id, step=1)  # sends it
    assert more
    more, _delay, step = scripts.script_run_step(run_id=run_id, step=step)  # reads "Running"
    assert more and ScriptRunTarget.objects.get(run_id=run_id).status == "running"
    assert api(team["reader"]).post(f"/api/v1/provisioning/script-runs/{run_id}/stop/").status_code == 403
    stopped = client.post(f"/api/v1/provisioning/script-runs/{run_id}/stop/")
    assert stopped.status_code == 202, stopped.content
    run = drive(run_id)
    target = ScriptRunTarget.objects.get(run_id=run_id)
    assert target.status == "stopped" and "never" not in target.output
    assert run.operation.status == Operation.Status.FAILED
    assert client.post(f"/api/v1/provisioning/script-runs/{run_id}/stop/").status_code == 409


def test_a_step_run_twice_runs_the_script_once(world, team, control):
    a = instance(world)
    body = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [a.pk]}, format="json").json()
    invocations = control.get("/stats")["resources"]["ecs_invocation"]["total"]
    assert scripts.script_run_step(run_id=body["id"], step=1)[0] is True
    first = ScriptRun.objects.get(pk=body["id"]).calls[0]["invocation"]
    # The task is delivered again as if its answer had been lost: nothing of the first send is recorded.
    calls = [{**c, "invocation": ""} for c in ScriptRun.objects.get(pk=body["id"]).calls]
    ScriptRun.objects.filter(pk=body["id"]).update(step=0, phase="call", calls=calls)
    assert scripts.script_run_step(run_id=body["id"], step=1)[0] is True
    assert ScriptRun.objects.get(pk=body["id"]).calls[0]["invocation"] == first
    assert control.get("/stats")["resources"]["ecs_invocation"]["total"] == invocations + 1
    assert drive(body["id"]).operation.status == Operation.Status.SUCCEEDED


def test_a_platform_that_runs_no_scripts_is_refused(world, team, control, monkeypatch):
    a = instance(world)
    monkeypatch.setattr(scripts, "command_module", lambda platform_type: None)
    response = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [a.pk]}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "unsupported_operation"
    assert not ScriptRun.objects.exists()


def test_the_scripts_pages_show_the_library_and_runs_and_hide_other_organizations_runs(world, team, control):
    a = instance(world, name="page-web")
    client = api(team["runner"])
    script = save(client, world).json()
    body = client.post("/api/v1/provisioning/script-runs/", {
        "script": script["id"], "instances": [a.pk]}, format="json").json()
    drive(body["id"])
    for surface in ("portal", "console"):
        page = client.get(f"/{surface}/provisioning/scripts/?instance={a.pk}")
        assert page.status_code == 200
        html = page.content.decode()
        assert "health" in html and body["id"] in html and "page-web" in html  # library, history, picked
        run_page = client.get(f"/{surface}/provisioning/scripts/runs/{body['id']}/")
        assert run_page.status_code == 200
        assert "page-web" in run_page.content.decode() and "active" in run_page.content.decode()
    assert api(world["outsider"]).get(f"/portal/provisioning/scripts/runs/{body['id']}/").status_code == 404
    assert body["id"] not in api(world["outsider"]).get("/portal/provisioning/scripts/").content.decode()


def test_instances_on_two_platforms_are_sent_in_one_call_each(world, team, control):
    from apps.clouds.services import platform_discover_regions

    second = f.platform(world["hq"], endpoint=world["platform"].endpoint, name="Sim again")
    platform_discover_regions(platform=second)
    a = instance(world, name="first")
    other = instance(world, name="second")
    moved = resource_refresh(platform=second, resource_type="ecs.instance", region="cn-hangzhou",
                             external_id=other.external_id, adapter=adapter_for(second))
    Resource.objects.filter(pk=moved.pk).update(organization=world["hq"], project=world["project"])
    before = run_commands(control)
    body = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [a.pk, moved.pk]}, format="json").json()
    run = drive(body["id"])
    assert run_commands(control) == before + 2
    assert sorted(len(c["instances"]) for c in run.calls) == [1, 1]
    assert {c["platform"] for c in run.calls} == {str(world["platform"].pk), str(second.pk)}
    assert run.operation.status == Operation.Status.SUCCEEDED, run.operation.error


def test_an_instance_stopped_since_the_inventory_saw_it_ends_with_the_clouds_error_and_the_others_still_run(
        world, team, control):
    a, b, c = instance(world, name="one"), instance(world, name="gone-quiet"), instance(world, name="three")
    cloud = sim_adapter(world["platform"].endpoint)
    cloud.stop("ecs.instance", "cn-hangzhou", b.external_id)  # at the cloud's own console: inventory still says running
    _wait(cloud, "ecs.instance", "cn-hangzhou", b.external_id, {"stopped"})
    before = run_commands(control)
    body = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [a.pk, b.pk, c.pk]}, format="json").json()
    run = drive(body["id"])
    assert run_commands(control) == before + 2  # refused once, then sent without the stopped one
    targets = {t.instance_id: t for t in ScriptRunTarget.objects.filter(run=run)}
    assert (targets[b.external_id].status, targets[b.external_id].error_code) == ("error", "InvalidInstance.NotRunning")
    assert b.external_id in targets[b.external_id].error
    for ok in (a, c):
        assert (targets[ok.external_id].status, targets[ok.external_id].exit_code) == ("success", 0)
        assert targets[ok.external_id].output.strip()
    assert run.calls[0]["invocation"] and sorted(run.calls[0]["instances"]) == sorted([a.external_id, c.external_id])
    assert run.operation.status == Operation.Status.FAILED
    assert run.operation.message == "2 of 3 instances succeeded" and "gone-quiet: error" in run.operation.error


def test_a_group_whose_every_instance_is_refused_ends_them_all_with_one_call(world, team, control):
    a = instance(world, name="only")
    cloud = sim_adapter(world["platform"].endpoint)
    cloud.stop("ecs.instance", "cn-hangzhou", a.external_id)
    _wait(cloud, "ecs.instance", "cn-hangzhou", a.external_id, {"stopped"})
    before = run_commands(control)
    body = api(team["runner"]).post("/api/v1/provisioning/script-runs/", {
        "content": "hostname", "instances": [a.pk]}, format="json").json()
    run = drive(body["id"])
    assert run_commands(control) == before + 1
    target = ScriptRunTarget.objects.get(run=run)
    assert (target.status, target.error_code) == ("error", "InvalidInstance.NotRunning")
    assert run.calls[0]["error"].startswith("InvalidInstance.NotRunning") and not run.calls[0]["invocation"]
    assert run.operation.status == Operation.Status.FAILED
