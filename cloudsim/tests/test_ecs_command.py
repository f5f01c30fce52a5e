"""Cloud Assistant in cloudsim (``services/ecs_command.py``) through the official ECS SDK client: RunCommand,
the results per instance (running, then success or failure with exit code and output), parameters, the
cloud's refusals, stopping, saved commands, and every answer holding only fields the SDK defines."""

from __future__ import annotations

import base64

import pytest
from alibabacloud_ecs20140526 import models as m
from Tea.exceptions import TeaException

from cloudsim.tests.conftest import REGION, make_network, run_instances, wait_for, wait_status
from cloudsim.tests.sdk_schema import undefined


@pytest.fixture
def two_running(ecs, vpc):
    _vpc_id, vsw = make_network(vpc)
    ids = run_instances(ecs, vsw, amount=2)
    for instance_id in ids:
        wait_status(ecs, instance_id, "Running")
    return ids


def results(ecs, invoke_id: str, **extra):
    body = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
        region_id=REGION, invoke_id=invoke_id, **extra)).body
    assert undefined(m.DescribeInvocationResultsResponseBody, body.to_map()) == []
    return body.invocation.invocation_results.invocation_result


def finished(ecs, invoke_id: str):
    return wait_for(lambda: (lambda rs: rs if all(r.invoke_record_status != "Running" for r in rs) else None)(
        results(ecs, invoke_id)))


def refused(fn) -> TeaException:
    with pytest.raises(TeaException) as info:
        fn()
    return info.value


def test_run_command_is_running_then_each_instance_reports_its_output_and_exit_code(ecs, two_running):
    script = "hostname\necho ready {{ACS::InstanceId}}\nuptime"
    answer = ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content=script, instance_id=two_running,
        name="probe", timeout=60)).body
    assert answer.invoke_id.startswith("t-") and answer.command_id.startswith("c-")
    first = results(ecs, answer.invoke_id)
    assert {r.invocation_status for r in first} == {"Running"}
    done = finished(ecs, answer.invoke_id)
    assert {r.instance_id for r in done} == set(two_running)
    for r in done:
        assert (r.invocation_status, r.invoke_record_status, r.exit_code, r.error_code) == \
            ("Success", "Finished", 0, "")
        text = base64.b64decode(r.output).decode()
        assert f"ready {r.instance_id}" in text and "load average" in text
        assert r.start_time and r.finished_time
    plain = results(ecs, answer.invoke_id, content_encoding="PlainText")
    assert all("ready" in r.output for r in plain)


def test_a_non_zero_exit_fails_with_its_code_and_the_output_before_it(ecs, two_running):
    script = base64.b64encode(b"echo before\nexit 3\necho after").decode()
    answer = ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content=script, content_encoding="Base64",
        instance_id=two_running[:1])).body
    (r,) = finished(ecs, answer.invoke_id)
    assert (r.invocation_status, r.invoke_record_status, r.exit_code, r.error_code) == \
        ("Failed", "Failed", 3, "ExitCodeNonzero")
    assert base64.b64decode(r.output).decode() == "before\n"


def test_parameters_fill_placeholders_and_a_missing_or_unknown_one_is_refused(ecs, two_running):
    script = "echo deploying {{version}} to {{ACS::RegionId}}"
    answer = ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content=script, instance_id=two_running[:1],
        enable_parameter=True, parameters={"version": "1.4.2"})).body
    (r,) = finished(ecs, answer.invoke_id)
    assert base64.b64decode(r.output).decode() == f"deploying 1.4.2 to {REGION}\n"
    for params in ({}, {"version": "1", "other": "x"}):
        exc = refused(lambda p=params: ecs.run_command(m.RunCommandRequest(
            region_id=REGION, type="RunShellScript", command_content=script, instance_id=two_running[:1],
            enable_parameter=True, parameters=p)))
        assert exc.code == "InvalidParameter.Parameters"


def test_a_stopped_instance_unknown_instance_bad_type_and_oversize_content_are_refused(ecs, two_running):
    ecs.stop_instance(m.StopInstanceRequest(instance_id=two_running[1]))
    wait_status(ecs, two_running[1], "Stopped")
    exc = refused(lambda: ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content="hostname", instance_id=two_running)))
    assert exc.code == "InvalidInstance.NotRunning"
    exc = refused(lambda: ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content="hostname", instance_id=["i-nothere000"])))
    assert exc.code == "InvalidInstance.NotFound"
    exc = refused(lambda: ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunPython", command_content="hostname", instance_id=two_running[:1])))
    assert exc.code == "InvalidCmdType.NotFound"
    exc = refused(lambda: ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content="echo x\n" * 2000, instance_id=two_running[:1])))
    assert exc.code == "CmdContent.ExceedLimit"
    exc = refused(lambda: ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", instance_id=two_running[:1])))
    assert exc.code == "MissingParameter"
    invocations = ecs.describe_invocations(m.DescribeInvocationsRequest(region_id=REGION)).body
    assert invocations.total_count == 0  # nothing refused was started


def test_stop_invocation_terminates_what_still_runs_and_invocations_list_the_instances(ecs, two_running):
    answer = ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content="echo start\nsleep 30\necho end",
        instance_id=two_running, timeout=120)).body
    wait_for(lambda: all(base64.b64decode(r.output) == b"start\n" for r in results(ecs, answer.invoke_id)))
    ecs.stop_invocation(m.StopInvocationRequest(region_id=REGION, invoke_id=answer.invoke_id))
    done = results(ecs, answer.invoke_id)
    assert {(r.invocation_status, r.invoke_record_status) for r in done} == {("Terminated", "Stopped")}
    body = ecs.describe_invocations(m.DescribeInvocationsRequest(
        region_id=REGION, invoke_id=answer.invoke_id, include_output=True, content_encoding="PlainText")).body
    assert undefined(m.DescribeInvocationsResponseBody, body.to_map()) == []
    (inv,) = body.invocations.invocation
    assert inv.invoke_status == "Stopped"
    assert {i.instance_id for i in inv.invoke_instances.invoke_instance} == set(two_running)
    assert all(i.output == "start\n" for i in inv.invoke_instances.invoke_instance)
    exc = refused(lambda: ecs.stop_invocation(m.StopInvocationRequest(region_id=REGION, invoke_id="t-unknown")))
    assert exc.code == "InvalidInvokeId.NotFound"


def test_results_are_paged(ecs, two_running):
    answer = ecs.run_command(m.RunCommandRequest(
        region_id=REGION, type="RunShellScript", command_content="whoami", instance_id=two_running)).body
    page1 = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
        region_id=REGION, invoke_id=answer.invoke_id, page_size=1, page_number=1)).body.invocation
    page2 = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
        region_id=REGION, invoke_id=answer.invoke_id, page_size=1, page_number=2)).body.invocation
    assert page1.total_count == 2
    ids = [page1.invocation_results.invocation_result[0].instance_id,
           page2.invocation_results.invocation_result[0].instance_id]
    assert sorted(ids) == sorted(two_running)
    first = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
        region_id=REGION, invoke_id=answer.invoke_id, max_results=1)).body.invocation
    assert first.next_token
    second = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
        region_id=REGION, invoke_id=answer.invoke_id, max_results=1, next_token=first.next_token)).body.invocation
    assert second.next_token == ""
    assert second.invocation_results.invocation_result[0].instance_id != \
        first.invocation_results.invocation_result[0].instance_id


def test_saved_commands_are_created_invoked_listed_and_deleted(ecs, two_running):
    created = ecs.create_command(m.CreateCommandRequest(
        region_id=REGION, name="disk report", type="RunShellScript", command_content="df -h\necho {{label}}",
        enable_parameter=True)).body.command_id
    listed = ecs.describe_commands(m.DescribeCommandsRequest(region_id=REGION, command_id=created)).body
    assert undefined(m.DescribeCommandsResponseBody, listed.to_map()) == []
    assert listed.commands.command[0].parameter_names.parameter_name == ["label"]
    invoke_id = ecs.invoke_command(m.InvokeCommandRequest(
        region_id=REGION, command_id=created, instance_id=two_running, parameters={"label": "weekly"})).body.invoke_id
    done = finished(ecs, invoke_id)
    assert all(base64.b64decode(r.output).decode().endswith("weekly\n") for r in done)
    ecs.delete_command(m.DeleteCommandRequest(region_id=REGION, command_id=created))
    exc = refused(lambda: ecs.invoke_command(m.InvokeCommandRequest(
        region_id=REGION, command_id=created, instance_id=two_running)))
    assert exc.code == "InvalidCmdId.NotFound"
