"""Scripts on instances on Apsara Stack / Alibaba Cloud: ECS Cloud Assistant (ECS 2014-05-26).

Companion of the ``apsara`` adapter, found by the console as ``apps.clouds.adapters.<type>_command``
(a cloud type without such a module offers no scripts). Each function takes the adapter first and
calls the cloud through its official SDK (``adapter._invoke``: the adapter's timeouts, retries of
transient failures and error classification; a refusal is a ``CloudCallError`` with the cloud's code).

The contract (the same names and signatures in ``aws_command``):

``LANGUAGES``
    the script languages the cloud runs: ``shell`` and ``powershell``.
``run_command(adapter, region, instance_ids, script, *, language="shell", parameters=None, timeout=60,
name="", client_token=None) -> invocation id``
    one call for all the instances (all in ``region``). ``parameters`` fill the script's ``{{name}}``
    placeholders (the cloud fills them here: ``EnableParameter``). The same ``client_token`` on every
    attempt of one step makes the cloud run the script once even when an answer was lost.
``command_results(adapter, region, invocation_id) -> {instance id: {"status", "exit_code", "output",
"error_code", "error", "started_at", "finished_at"}}``
    ``status`` is one of ``running``, ``success``, ``failed``, ``timeout``, ``stopped`` (``pending``
    before the instance started); the output is the text printed so far; times are ISO 8601 or "".
``stop_command(adapter, region, invocation_id)``
    ends what still runs (those become ``stopped``).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models

LANGUAGES = {"shell": "RunShellScript", "powershell": "RunPowerShellScript"}
PAGE_SIZE = 50

# InvocationStatus of one instance -> the contract's status
STATUS = {"Pending": "pending", "Scheduled": "pending", "Running": "running", "Stopping": "running",
          "Success": "success", "Failed": "failed", "Error": "failed", "Invalid": "failed", "Aborted": "failed",
          "Timeout": "timeout", "Cancelled": "stopped", "Terminated": "stopped", "Stopped": "stopped"}


def run_command(adapter: Any, region: str, instance_ids: list[str], script: str, *, language: str = "shell",
                parameters: dict[str, str] | None = None, timeout: int = 60, name: str = "",
                client_token: str | None = None) -> str:
    request = ecs_models.RunCommandRequest(
        region_id=region, type=LANGUAGES[language], content_encoding="Base64",
        command_content=base64.b64encode(script.encode("utf-8")).decode(), instance_id=list(instance_ids),
        timeout=int(timeout), name=(name or "unimanager-script")[:128], keep_command=False,
        client_token=client_token or uuid.uuid4().hex)
    if parameters:
        request.enable_parameter = True
        request.parameters = {k: str(v) for k, v in parameters.items()}
    answer = adapter._invoke("ecs", region, "run_command", request)
    return str(answer["InvokeId"])


def _decode(text: str | None) -> str:
    if not text:
        return ""
    try:
        return base64.b64decode(text).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return text


def command_results(adapter: Any, region: str, invocation_id: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        request = ecs_models.DescribeInvocationResultsRequest(
            region_id=region, invoke_id=invocation_id, content_encoding="Base64", page_size=PAGE_SIZE,
            page_number=page)
        body = adapter._invoke("ecs", region, "describe_invocation_results", request)
        invocation = body.get("Invocation") or {}
        rows = (invocation.get("InvocationResults") or {}).get("InvocationResult") or []
        for row in rows:
            status = STATUS.get(str(row.get("InvocationStatus") or ""), "running")
            out[str(row["InstanceId"])] = {
                "status": status, "exit_code": row.get("ExitCode") if status not in ("running", "pending") else None,
                "output": _decode(row.get("Output")), "error_code": row.get("ErrorCode") or "",
                "error": row.get("ErrorInfo") or "", "started_at": row.get("StartTime") or "",
                "finished_at": row.get("FinishedTime") or row.get("StopTime") or ""}
        total = int(invocation.get("TotalCount") or 0)
        if not rows or page * PAGE_SIZE >= total:
            return out
        page += 1


def stop_command(adapter: Any, region: str, invocation_id: str) -> None:
    adapter._invoke("ecs", region, "stop_invocation", ecs_models.StopInvocationRequest(
        region_id=region, invoke_id=invocation_id))
