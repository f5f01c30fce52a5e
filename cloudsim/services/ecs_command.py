"""ECS Cloud Assistant (API version 2014-05-26, beside ``ecs``): scripts run on instances.

- ``RunCommand``: ``Type`` (RunShellScript, RunPowerShellScript, RunBatScript), ``CommandContent`` (plain
  text, or Base64 with ``ContentEncoding=Base64``; at most 16 KiB once Base64-encoded), ``InstanceId.N``
  (1 to 100 instances, each Running in the region), ``Parameters`` (a JSON object, with
  ``EnableParameter=true``: every ``{{name}}`` of the content needs a value, built-in
  ``{{ACS::InstanceId}}``, ``{{ACS::InstanceName}}``, ``{{ACS::RegionId}}`` are filled in), ``Timeout``
  (10 to 86400 s, default 60), ``Name``, ``KeepCommand`` (keep the command for ``InvokeCommand``).
- ``CreateCommand`` / ``InvokeCommand`` / ``DescribeCommands`` / ``DeleteCommand``: saved commands.
- ``DescribeInvocations`` (per invocation, its instances), ``DescribeInvocationResults`` (per instance;
  PageNumber/PageSize up to 50, or NextToken/MaxResults), ``StopInvocation``.

Nothing is executed. Each instance's run is worked out when the command is sent, from the content:
``hostname``, ``uptime``, ``whoami``, ``uname [-a]``, ``date``, ``echo ...``, ``cat /etc/os-release``,
``df -h``, ``free -m``, ``systemctl status|restart|is-active <unit>`` print plausible lines (the
instance's own names); ``sleep N`` makes the run take N seconds more; ``false`` and ``exit N`` end it
with exit code 1 or N; any other line prints nothing and succeeds. A run takes one step of the store
(its ``provision_seconds``) plus its sleeps, so ``Running`` is observable, and the output seen while
it runs grows line by line. Past ``Timeout`` a run ends as ``Timeout`` (ErrorCode ``ExecutionTimeout``);
a non-zero exit is ``Failed`` (ErrorCode ``ExitCodeNonzero``); ``StopInvocation`` ends running ones as
``Terminated``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import shlex
import time
from typing import Any

from ..errors import CloudError, invalid
from ..store import Store, iso_now, register_kind
from . import action
from .inventory_kit import numbered, region_param

V = "2014-05-26"
register_kind("ecs_command")
register_kind("ecs_invocation")

TYPES = ("RunShellScript", "RunPowerShellScript", "RunBatScript")
MAX_CONTENT_BYTES = 16 * 1024  # Base64-encoded, as the API measures it
MAX_INSTANCES = 100
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_\-:]{1,64})\s*\}\}")
NAME_RE = re.compile(r"^.{1,128}$", re.S)
BUILTIN = ("ACS::InstanceId", "ACS::InstanceName", "ACS::RegionId")


def _ms(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _content(p) -> str:
    """The command's text: ``CommandContent`` decoded per ``ContentEncoding``, size checked."""
    raw = p.values.get("CommandContent") or ""
    if not raw:
        raise CloudError("MissingParameter", 'The input parameter "CommandContent" that is mandatory for processing '
                         "this request is not supplied.")
    encoding = p.str("ContentEncoding", "PlainText")
    if encoding not in ("PlainText", "Base64"):
        raise CloudError("InvalidParameter.ContentEncoding", "The specified parameter ContentEncoding is not valid.")
    if encoding == "Base64":
        try:
            text = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise CloudError("InvalidCommandContent.Malformed",
                             "The specified command content is not valid Base64.") from None
        encoded = raw
    else:
        text = raw
        encoded = base64.b64encode(raw.encode("utf-8")).decode()
    if len(encoded) > MAX_CONTENT_BYTES:
        raise CloudError("CmdContent.ExceedLimit", "The length of the command content exceeds the upper limit "
                         f"({MAX_CONTENT_BYTES} bytes after Base64 encoding).", 403)
    if not text.strip():
        raise CloudError("InvalidCommandContent", "The command content must not be empty.")
    return text


def _type(p) -> str:
    kind = p.str("Type", required=True) or ""
    if kind not in TYPES:
        raise CloudError("InvalidCmdType.NotFound", "The specified command type does not exist.")
    return kind


def _timeout(p) -> int:
    return p.int("Timeout", 60, lo=10, hi=86400) or 60


def _parameters(p) -> dict[str, str]:
    raw = p.str("Parameters")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise CloudError("InvalidParameter.Parameters", "The specified parameter Parameters is not valid JSON.") \
            from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str | int | float | bool)
                                              for k, v in value.items()):
        raise CloudError("InvalidParameter.Parameters", "Parameters must be a JSON object of names and values.")
    return {k: str(v) for k, v in value.items()}


def _placeholders(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER_RE.finditer(text)))


def _check_parameters(text: str, enabled: bool, values: dict[str, str]) -> None:
    if not enabled:
        if values:
            raise CloudError("InvalidParameter.Parameters",
                             "Parameters are given but the command does not enable custom parameters.")
        return
    names = [n for n in _placeholders(text) if n not in BUILTIN]
    missing = [n for n in names if n not in values]
    if missing:
        raise CloudError("InvalidParameter.Parameters", f"The parameter {missing[0]!r} of the command has no value.")
    unknown = [n for n in values if n not in names]
    if unknown:
        raise CloudError("InvalidParameter.Parameters", f"The parameter {unknown[0]!r} is not used by the command.")


def _instances(store: Store, region: str, p) -> list[dict[str, Any]]:
    ids = list(dict.fromkeys(p.repeated("InstanceId")))
    if not ids:
        raise CloudError("MissingParameter", 'The input parameter "InstanceId" that is mandatory for processing '
                         "this request is not supplied.")
    if len(ids) > MAX_INSTANCES:
        raise CloudError("InstanceIds.ExceedLimit", f"The number of instances exceeds {MAX_INSTANCES}.", 403)
    found = []
    for instance_id in ids:
        record = store.tables["ecs_instance"].get(instance_id)
        if record is not None and not store.settle("ecs_instance", record, time.time()):
            record = None
        if record is None or record.get("RegionId") != region:
            raise CloudError("InvalidInstance.NotFound", f"The specified instance {instance_id} does not exist.", 404)
        if record["Status"] != "Running":
            raise CloudError("InvalidInstance.NotRunning",
                             f"The specified instance {instance_id} is not running (Status: {record['Status']}).", 403)
        found.append(record)
    return found


# -- what a run prints --------------------------------------------------------------------------------

def _fill(text: str, instance: dict[str, Any], values: dict[str, str]) -> str:
    builtin = {"ACS::InstanceId": instance["InstanceId"], "ACS::InstanceName": instance.get("InstanceName", ""),
               "ACS::RegionId": instance.get("RegionId", "")}
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), builtin.get(m.group(1), m.group(0))), text)


def _line_output(words: list[str], instance: dict[str, Any], now: float) -> list[str]:
    host = instance.get("HostName") or instance["InstanceId"]
    os_name = instance.get("OSName") or "Linux"
    name, args = words[0], words[1:]
    seed = sum(instance["InstanceId"].encode()) % 97
    if name == "hostname":
        return [host]
    if name == "whoami":
        return ["root"]
    if name == "echo":
        return [" ".join(a for a in args if a != "-n")]
    if name == "uptime":
        minutes = 3 + seed
        return [f" {time.strftime('%H:%M:%S', time.gmtime(now))} up {minutes} min,  1 user,  load average: "
                f"0.{seed % 10:02d}, 0.{(seed // 2) % 10:02d}, 0.05"]
    if name == "uname":
        return [f"Linux {host} 3.10.0-1160.el7.x86_64 #1 SMP x86_64 GNU/Linux" if "-a" in args else "Linux"]
    if name == "date":
        return [time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(now))]
    if name == "cat" and args == ["/etc/os-release"]:
        return [f'PRETTY_NAME="{os_name}"', f'NAME="{os_name.split(" ")[0]}"']
    if name == "df":
        return ["Filesystem      Size  Used Avail Use% Mounted on",
                f"/dev/vda1        40G  {3 + seed % 20}G  {37 - seed % 20}G  {(3 + seed % 20) * 100 // 40}% /"]
    if name == "free":
        return ["              total        used        free      shared  buff/cache   available",
                f"Mem:           7820        {400 + seed * 7}        {6000 - seed * 7}          1        1419"
                "        7100"]
    if name == "systemctl" and len(args) >= 2:
        if args[0] == "is-active":
            return ["active"]
        if args[0] == "status":
            return [f"● {args[1]}.service", "   Active: active (running)"]
        return []
    return []


def _plan(text: str, kind: str, instance: dict[str, Any], values: dict[str, str], now: float
          ) -> tuple[list[tuple[float, str]], float, int]:
    """The run of ``text`` on ``instance``: (output lines with the second each is printed, duration,
    exit code)."""
    lines: list[tuple[float, str]] = []
    elapsed = 0.0
    exit_code = 0
    for raw in _fill(text, instance, values).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "#!")):
            continue
        try:
            words = shlex.split(line, comments=True, posix=True)
        except ValueError:
            words = line.split()
        if not words:
            continue
        if kind != "RunShellScript" and words[0].lower() in ("write-output", "write-host"):
            lines.append((elapsed, " ".join(words[1:])))
            continue
        if words[0] == "sleep" and len(words) > 1:
            try:
                elapsed += max(0.0, min(86400.0, float(words[1])))
            except ValueError:
                pass
            continue
        if words[0] in ("exit", "Exit"):
            try:
                exit_code = int(words[1]) % 256 if len(words) > 1 else 0
            except ValueError:
                exit_code = 2
            break
        if words[0] == "false":
            exit_code = 1
            break
        for out in _line_output(words, instance, now + elapsed):
            lines.append((elapsed, out))
    return lines, elapsed, exit_code


def _run_on(store: Store, text: str, kind: str, instance: dict[str, Any], values: dict[str, str], timeout: int,
            now: float) -> dict[str, Any]:
    lines, slept, exit_code = _plan(text, kind, instance, values, now)
    step = store.provision_seconds
    duration = step + slept
    timed_out = duration > timeout
    end = now + (timeout if timed_out else duration)
    # Lines appear over the run: those before the first sleep half-way through the first step.
    schedule = [(now + step * 0.5 + at, out) for at, out in lines]
    return {"InstanceId": instance["InstanceId"], "_start": now, "_end": end, "_lines": schedule,
            "_exit": None if timed_out else exit_code, "_timeout": timed_out, "_stopped_at": None}


def _state(run: dict[str, Any], now: float) -> dict[str, Any]:
    """One instance's run as of ``now``: status, output so far, exit code, error."""
    stopped = run["_stopped_at"]
    horizon = min(now, stopped) if stopped is not None else now
    output = "".join(out + "\n" for at, out in run["_lines"] if at <= horizon)
    if stopped is not None:
        return {"status": "Terminated", "output": output, "exit": -1, "error": ("", ""), "finished": stopped,
                "stopped": stopped}
    if now < run["_end"]:
        return {"status": "Running", "output": output, "exit": None, "error": ("", ""), "finished": None,
                "stopped": None}
    if run["_timeout"]:
        return {"status": "Timeout", "output": output, "exit": -1, "finished": run["_end"], "stopped": None,
                "error": ("ExecutionTimeout", "The command execution timed out.")}
    if run["_exit"]:
        return {"status": "Failed", "output": output, "exit": run["_exit"], "finished": run["_end"], "stopped": None,
                "error": ("ExitCodeNonzero", f"The command exited with code {run['_exit']}.")}
    return {"status": "Success", "output": output, "exit": 0, "error": ("", ""), "finished": run["_end"],
            "stopped": None}


RECORD_STATUS = {"Running": "Running", "Success": "Finished", "Failed": "Failed", "Timeout": "Failed",
                 "Terminated": "Stopped"}


def _overall(states: list[dict[str, Any]]) -> str:
    """The invocation's status from its instances'."""
    kinds = {s["status"] for s in states}
    if "Running" in kinds:
        return "Running"
    if kinds == {"Success"}:
        return "Finished"
    if "Terminated" in kinds:
        return "Stopped"
    if "Success" in kinds:
        return "PartialFailed"
    return "Failed"


def _new_command(store: Store, p, region: str, *, text: str, kind: str, name: str, keep: bool) -> dict[str, Any]:
    enabled = p.bool("EnableParameter", False)
    record = {"CommandId": "c-" + secrets.token_hex(12), "RegionId": region, "Name": name, "Type": kind,
              "Description": p.str("Description", "") or "", "Timeout": _timeout(p),
              "WorkingDir": p.str("WorkingDir", "") or "", "EnableParameter": enabled,
              "CreationTime": iso_now(), "InvokeTimes": 0, "_text": text, "_kept": keep}
    return store.add("ecs_command", record, "CommandId")


def _invoke(store: Store, p, region: str, command: dict[str, Any], *, text: str, instances: list[dict[str, Any]],
            values: dict[str, str], timeout: int) -> dict[str, Any]:
    now = time.time()
    runs = [_run_on(store, text, command["Type"], inst, values, timeout, now) for inst in instances]
    command["InvokeTimes"] = command.get("InvokeTimes", 0) + 1
    record = {"InvokeId": "t-" + secrets.token_hex(12), "RegionId": region, "CommandId": command["CommandId"],
              "CommandName": command["Name"], "CommandType": command["Type"],
              "CommandDescription": command.get("Description", ""), "Timeout": timeout,
              "Username": p.str("Username", "") or ("root" if command["Type"] == "RunShellScript" else "system"),
              "WorkingDir": command.get("WorkingDir") or "", "Parameters": json.dumps(values) if values else "",
              "CreationTime": iso_now(now), "_text": text, "_runs": runs, "_created": now}
    return store.add("ecs_invocation", record, "InvokeId")


@action(V, "RunCommand")
def run_command(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    kind = _type(p)
    text = _content(p)
    values = _parameters(p)
    _check_parameters(text, p.bool("EnableParameter", False), values)
    timeout = _timeout(p)
    name = p.str("Name", "") or ""
    if name and not NAME_RE.match(name):
        raise invalid("Name")
    instances = _instances(store, region, p)
    keep = p.bool("KeepCommand", False)
    command = _new_command(store, p, region, text=text, kind=kind, name=name or f"command-{secrets.token_hex(4)}",
                           keep=keep)
    invocation = _invoke(store, p, region, command, text=text, instances=instances, values=values, timeout=timeout)
    if not keep:
        command["_kept"] = False
    return {"CommandId": command["CommandId"], "InvokeId": invocation["InvokeId"]}


@action(V, "CreateCommand")
def create_command(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    name = p.str("Name", required=True) or ""
    if not NAME_RE.match(name):
        raise invalid("Name")
    kind = _type(p)
    text = _content(p)
    command = _new_command(store, p, region, text=text, kind=kind, name=name, keep=True)
    return {"CommandId": command["CommandId"]}


def _command(store: Store, region: str, command_id: str) -> dict[str, Any]:
    record = store.tables["ecs_command"].get(command_id)
    if record is None or record["RegionId"] != region or not record["_kept"]:
        raise CloudError("InvalidCmdId.NotFound", "The specified command does not exist.", 404)
    return record


@action(V, "InvokeCommand")
def invoke_command(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    command = _command(store, region, p.str("CommandId", required=True) or "")
    values = _parameters(p)
    _check_parameters(command["_text"], command["EnableParameter"], values)
    timeout = p.int("Timeout", command["Timeout"], lo=10, hi=86400) or command["Timeout"]
    instances = _instances(store, region, p)
    invocation = _invoke(store, p, region, command, text=command["_text"], instances=instances, values=values,
                         timeout=timeout)
    return {"InvokeId": invocation["InvokeId"]}


@action(V, "DescribeCommands")
def describe_commands(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    wanted_id, wanted_name, wanted_type = p.str("CommandId"), p.str("Name"), p.str("Type")
    rows = [c for c in store.rows("ecs_command", region) if c["_kept"]
            and (not wanted_id or c["CommandId"] == wanted_id) and (not wanted_name or c["Name"] == wanted_name)
            and (not wanted_type or c["Type"] == wanted_type)]
    chunk, number, size = numbered(rows, p, default=10, max_size=50)
    items = []
    for c in chunk:
        names = [n for n in _placeholders(c["_text"]) if n not in BUILTIN] if c["EnableParameter"] else []
        items.append({"CommandId": c["CommandId"], "Name": c["Name"], "Type": c["Type"],
                      "Description": c["Description"], "CommandContent": base64.b64encode(
                          c["_text"].encode()).decode(), "Timeout": c["Timeout"], "WorkingDir": c["WorkingDir"],
                      "EnableParameter": c["EnableParameter"], "ParameterNames": {"ParameterName": names},
                      "CreationTime": c["CreationTime"], "InvokeTimes": c["InvokeTimes"], "Latest": True,
                      "Version": 1, "Provider": "", "Category": ""})
    return {"Commands": {"Command": items}, "TotalCount": len(rows), "PageNumber": number, "PageSize": size}


@action(V, "DeleteCommand")
def delete_command(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    command = _command(store, region, p.str("CommandId", required=True) or "")
    command["_kept"] = False
    store.dirty = True
    return {}


# -- results ---------------------------------------------------------------------------------------

def _invocation(store: Store, region: str, invoke_id: str) -> dict[str, Any]:
    record = store.tables["ecs_invocation"].get(invoke_id)
    if record is None or record["RegionId"] != region:
        raise CloudError("InvalidInvokeId.NotFound", "The specified invocation does not exist.", 404)
    return record


def _encode(text: str, p) -> str:
    encoding = p.str("ContentEncoding", "Base64")
    if encoding not in ("PlainText", "Base64"):
        raise CloudError("InvalidParameter.ContentEncoding", "The specified parameter ContentEncoding is not valid.")
    return text if encoding == "PlainText" else base64.b64encode(text.encode("utf-8")).decode()


def _wanted_invocations(store: Store, region: str, p) -> list[dict[str, Any]]:
    invoke_id, command_id = p.str("InvokeId"), p.str("CommandId")
    if invoke_id:
        return [_invocation(store, region, invoke_id)]
    rows = store.rows("ecs_invocation", region)
    return [r for r in reversed(rows) if not command_id or r["CommandId"] == command_id]


@action(V, "DescribeInvocationResults")
def describe_invocation_results(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    instance_id = p.str("InstanceId")
    wanted_status = p.str("InvokeRecordStatus")
    if wanted_status and wanted_status not in ("Running", "Finished", "Failed", "Stopped", "Stopping",
                                               "PartialFailed", "Pending", "Scheduled"):
        raise CloudError("InvalidParameter.InvokeRecordStatus", "The specified InvokeRecordStatus is not valid.")
    now = time.time()
    results = []
    for inv in _wanted_invocations(store, region, p):
        for run in inv["_runs"]:
            if instance_id and run["InstanceId"] != instance_id:
                continue
            state = _state(run, now)
            record_status = RECORD_STATUS[state["status"]]
            if wanted_status and record_status != wanted_status:
                continue
            results.append({
                "CommandId": inv["CommandId"], "InvokeId": inv["InvokeId"], "InstanceId": run["InstanceId"],
                "InvocationStatus": state["status"], "InvokeRecordStatus": record_status,
                "Output": _encode(state["output"], p), "ExitCode": state["exit"] if state["exit"] is not None else 0,
                "ErrorCode": state["error"][0], "ErrorInfo": state["error"][1], "Dropped": 0, "Repeats": 1,
                "StartTime": _ms(run["_start"]), "FinishedTime": _ms(state["finished"]) if state["finished"] else "",
                "StopTime": _ms(state["stopped"]) if state["stopped"] else "", "Username": inv["Username"],
                "Tags": {"Tag": []}})
    if p.str("NextToken") or p.str("MaxResults"):
        size = p.int("MaxResults", 10, lo=1, hi=50) or 10
        token = p.str("NextToken") or ""
        start = int(token[1:]) if token.startswith("t") and token[1:].isdigit() else 0
        if token and not (token.startswith("t") and token[1:].isdigit()):
            raise CloudError("InvalidNextToken.Malformed", "The specified NextToken is not valid.")
        chunk = results[start:start + size]
        page = {"InvocationResults": {"InvocationResult": chunk}, "TotalCount": len(results),
                "NextToken": f"t{start + size}" if start + size < len(results) else "", "PageSize": size}
        return {"Invocation": page}
    chunk, number, size = numbered(results, p, default=10, max_size=50)
    return {"Invocation": {"InvocationResults": {"InvocationResult": chunk}, "TotalCount": len(results),
                           "PageNumber": number, "PageSize": size, "NextToken": ""}}


@action(V, "DescribeInvocations")
def describe_invocations(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    include_output = p.bool("IncludeOutput", False)
    instance_id = p.str("InstanceId")
    wanted_status = p.str("InvokeStatus")
    now = time.time()
    items = []
    for inv in _wanted_invocations(store, region, p):
        if instance_id and all(r["InstanceId"] != instance_id for r in inv["_runs"]):
            continue
        states = [(_state(r, now), r) for r in inv["_runs"]]
        overall = _overall([s for s, _r in states])
        if wanted_status and overall != wanted_status:
            continue
        instances = []
        for state, run in states:
            instances.append({
                "InstanceId": run["InstanceId"], "InstanceInvokeStatus": RECORD_STATUS[state["status"]],
                "InvocationStatus": state["status"], "Output": _encode(state["output"], p) if include_output else "",
                "ExitCode": state["exit"] if state["exit"] is not None else 0, "ErrorCode": state["error"][0],
                "ErrorInfo": state["error"][1], "CreationTime": inv["CreationTime"], "StartTime": _ms(run["_start"]),
                "FinishTime": _ms(state["finished"]) if state["finished"] else "",
                "StopTime": _ms(state["stopped"]) if state["stopped"] else "",
                "UpdateTime": _ms(min(now, state["finished"] or now)), "Dropped": 0, "Repeats": 1, "Timed": False})
        items.append({
            "InvokeId": inv["InvokeId"], "CommandId": inv["CommandId"], "CommandName": inv["CommandName"],
            "CommandType": inv["CommandType"], "CommandDescription": inv["CommandDescription"],
            "CommandContent": base64.b64encode(inv["_text"].encode()).decode(), "InvokeStatus": overall,
            "InvocationStatus": {"Running": "Running", "Finished": "Success", "Failed": "Failed",
                                 "PartialFailed": "Failed", "Stopped": "Cancelled"}[overall],
            "Parameters": inv["Parameters"], "Timeout": inv["Timeout"], "Username": inv["Username"],
            "WorkingDir": inv["WorkingDir"], "CreationTime": inv["CreationTime"], "Timed": False,
            "RepeatMode": "Once", "Frequency": "", "InvokeInstances": {"InvokeInstance": instances},
            "Tags": {"Tag": []}})
    chunk, number, size = numbered(items, p, default=10, max_size=50)
    return {"Invocations": {"Invocation": chunk}, "TotalCount": len(items), "PageNumber": number,
            "PageSize": size, "NextToken": ""}


@action(V, "StopInvocation")
def stop_invocation(store: Store, p) -> dict[str, Any]:
    region = region_param(store, p)
    inv = _invocation(store, region, p.str("InvokeId", required=True) or "")
    only = set(p.repeated("InstanceId"))
    now = time.time()
    for run in inv["_runs"]:
        if only and run["InstanceId"] not in only:
            continue
        if run["_stopped_at"] is None and now < run["_end"]:
            run["_stopped_at"] = now
    store.dirty = True
    return {}
