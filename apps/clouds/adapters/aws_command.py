"""Scripts on instances on AWS: Systems Manager Run Command (``AWS-RunShellScript`` and
``AWS-RunPowerShellScript``) through boto3.

Companion of the ``aws`` adapter with the contract of ``apsara_command`` (read its docstring). The
differences AWS brings:

- The documents take the script as ``commands`` (one line each) and have no parameters of their own,
  so the script's ``{{name}}`` placeholders are filled here before it is sent.
- ``SendCommand`` has no client token: a step whose answer was lost may run the script again
  (``client_token`` is accepted and not used).
- Results are read per instance with ``ListCommands`` (the instances of the command) and
  ``GetCommandInvocation`` (status, response code, standard output and error), which moto serves too;
  moto's instances need no SSM agent, every invocation succeeds at once with an empty output.
- ``stop_command`` is ``CancelCommand`` (moto does not serve it).
"""

from __future__ import annotations

import re
from typing import Any

from apps.clouds.adapters.base import CloudCallError

LANGUAGES = {"shell": "AWS-RunShellScript", "powershell": "AWS-RunPowerShellScript"}
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_\-]{1,64})\s*\}\}")

# GetCommandInvocation's Status -> the contract's status
STATUS = {"Pending": "pending", "Delayed": "pending", "InProgress": "running", "Cancelling": "running",
          "Success": "success", "Failed": "failed", "TimedOut": "timeout", "Cancelled": "stopped",
          "Undeliverable": "failed", "Terminated": "stopped"}


def fill(script: str, parameters: dict[str, str] | None) -> str:
    values = parameters or {}
    return PLACEHOLDER_RE.sub(lambda m: str(values.get(m.group(1), m.group(0))), script)


def run_command(adapter: Any, region: str, instance_ids: list[str], script: str, *, language: str = "shell",
                parameters: dict[str, str] | None = None, timeout: int = 60, name: str = "",
                client_token: str | None = None) -> str:
    answer = adapter._invoke(
        "ssm", region, "send_command", InstanceIds=list(instance_ids), DocumentName=LANGUAGES[language],
        Comment=(name or "unimanager-script")[:100],
        Parameters={"commands": fill(script, parameters).splitlines() or [""],
                    "executionTimeout": [str(int(timeout))]})
    return str(answer["Command"]["CommandId"])


def command_results(adapter: Any, region: str, invocation_id: str) -> dict[str, dict[str, Any]]:
    listed = adapter._invoke("ssm", region, "list_commands", CommandId=invocation_id).get("Commands") or []
    if not listed:
        raise CloudCallError(f"Command {invocation_id} not found.", code="InvalidCommandId", action="ListCommands")
    out: dict[str, dict[str, Any]] = {}
    for instance_id in listed[0].get("InstanceIds") or []:
        row = adapter._invoke("ssm", region, "get_command_invocation", CommandId=invocation_id,
                              InstanceId=instance_id)
        status = STATUS.get(str(row.get("Status") or ""), "running")
        error = row.get("StandardErrorContent") or ""
        out[instance_id] = {
            "status": status,
            "exit_code": row.get("ResponseCode") if status not in ("running", "pending") else None,
            "output": (row.get("StandardOutputContent") or "") + error,
            "error_code": "" if status in ("success", "running", "pending") else str(row.get("StatusDetails") or ""),
            "error": error.strip()[:500], "started_at": str(row.get("ExecutionStartDateTime") or ""),
            "finished_at": str(row.get("ExecutionEndDateTime") or "")}
    return out


def stop_command(adapter: Any, region: str, invocation_id: str) -> None:
    adapter._invoke("ssm", region, "cancel_command", CommandId=invocation_id)
