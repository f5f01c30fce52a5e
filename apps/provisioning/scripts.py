"""Scripts on instances: the saved-script library of an organization and script runs.

Library (``script_create``, ``script_update``, ``script_delete``; ``provisioning:script:write``): a
script's text may use ``{{name}}`` placeholders, and each must be a declared parameter (``name``,
``description``, ``default``, ``required``) as each declared parameter must be used; a placeholder
or parameter that is not is refused naming it. Every change makes a new version and keeps the old
text (``ScriptVersion``); every change is announced on the script's topic and so audited.

A run (``script_run_start``) sends one script, saved or typed in, to 1..``MAX_INSTANCES`` instances:
each must be visible to the actor (else 404), one the actor may ``ecs:instance:command`` (else 403),
running (else 409), on an active platform whose adapter type has a ``<type>_command`` companion
(``apps.clouds.adapters.apsara_command``, ``aws_command``; else 422). Instances are grouped into one
cloud call per platform and region. Nothing is written and no cloud is called until every check
passed. The run is an ``Operation`` driven by ``script_run_step`` in short steps (a Celery task per
step, re-queued with a countdown, never sleeping): ``call`` sends each group once (the same client
token on every attempt), ``wait`` reads the results until every instance has ended or the deadline
(the script's timeout plus a margin) has passed. Each change of an instance's status or output is
stored (output capped at ``ScriptRunTarget.OUTPUT_LIMIT`` characters) and announced on the run's
topic ``script_run:<id>``; the page reloads the run from the API when it hears one.
"""

from __future__ import annotations

import base64
import importlib
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.clouds.adapters import adapter_for
from apps.clouds.adapters.base import CloudCallError
from apps.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused
from apps.core.events import emit
from apps.core.scoping import authorize, require, restrict
from apps.core.services import operation_advance, operation_create, operation_fail, operation_succeed
from apps.provisioning import config
from apps.provisioning.models import Script, ScriptRun, ScriptRunTarget, ScriptVersion
from apps.resources.models import Resource
from apps.resources.selectors import resource_list

logger = logging.getLogger(__name__)

READ = "provisioning:script:read"
WRITE = "provisioning:script:write"
COMMAND = "ecs:instance:command"
MAX_INSTANCES = 50
MAX_CONTENT_BYTES = 16 * 1024  # the cloud's limit, measured on the Base64-encoded text
MIN_TIMEOUT, MAX_TIMEOUT = 10, 86400
DEADLINE_MARGIN = 120  # seconds past the script's timeout before a run stops waiting
MAX_PARAMETERS = 20
PARAMETER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}\s]{1,64})\s*\}\}")
Phase = ScriptRun.Phase
Status = ScriptRunTarget.Status


def _fail(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: [message]})


def placeholders(content: str) -> list[str]:
    """The ``{{name}}`` placeholders of a script, in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER_RE.finditer(content)))


def command_module(platform_type: str) -> ModuleType | None:
    """The scripts companion of an adapter type, or ``None`` when the cloud runs no scripts."""
    try:
        return importlib.import_module(f"apps.clouds.adapters.{platform_type}_command")
    except ImportError:
        return None


# -- checks shared by the library and runs ------------------------------------------------------------

def clean_content(content: Any, field: str = "content") -> str:
    if not isinstance(content, str) or not content.strip():
        raise _fail(field, "The script is empty.")
    encoded = len(base64.b64encode(content.encode("utf-8")))
    if encoded > MAX_CONTENT_BYTES:
        raise _fail(field, f"The script is too long: {encoded} bytes once Base64-encoded, the cloud takes at most "
                    f"{MAX_CONTENT_BYTES} (about 12 KiB of text).")
    return content


def clean_language(language: Any) -> str:
    if language not in Script.Language.values:
        raise _fail("language", f"One of {', '.join(Script.Language.values)}.")
    return str(language)


def clean_timeout(timeout: Any) -> int:
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise _fail("timeout_seconds", f"From {MIN_TIMEOUT} to {MAX_TIMEOUT} seconds.")
    return timeout


def clean_parameters(parameters: Any, content: str) -> list[dict[str, Any]]:
    """Declared parameters checked against the script's placeholders (each used, each declared)."""
    if not isinstance(parameters, list) or len(parameters) > MAX_PARAMETERS:
        raise _fail("parameters", f"A list of at most {MAX_PARAMETERS} parameters.")
    out: list[dict[str, Any]] = []
    for n, item in enumerate(parameters):
        if not isinstance(item, dict) or set(item) - {"name", "description", "default", "required"}:
            raise _fail(f"parameters[{n}]", "An object with name, description, default and required.")
        name = item.get("name")
        if not isinstance(name, str) or not PARAMETER_RE.match(name):
            raise _fail(f"parameters[{n}].name", "A letter, then letters, digits or '_' (at most 64).")
        if any(p["name"] == name for p in out):
            raise _fail(f"parameters[{n}].name", f"{name!r} is declared twice.")
        description, default, required = item.get("description", ""), item.get("default", ""), item.get("required",
                                                                                                         False)
        if not isinstance(description, str) or len(description) > 200:
            raise _fail(f"parameters[{n}].description", "Text of at most 200 characters.")
        if not isinstance(default, str) or len(default) > 1024:
            raise _fail(f"parameters[{n}].default", "Text of at most 1024 characters.")
        if not isinstance(required, bool):
            raise _fail(f"parameters[{n}].required", "true or false.")
        out.append({"name": name, "description": description, "default": default, "required": required})
    used = placeholders(content)
    declared = [p["name"] for p in out]
    undeclared = [u for u in used if u not in declared]
    if undeclared:
        raise _fail("content", f"The placeholder {{{{{undeclared[0]}}}}} is not a declared parameter.")
    unused = [d for d in declared if d not in used]
    if unused:
        raise _fail("parameters", f"The parameter {unused[0]!r} is not used by the script (no {{{{{unused[0]}}}}}).")
    return out


def parameter_values(declared: list[dict[str, Any]], given: Any) -> dict[str, str]:
    """The value of each declared parameter for a run: given, else its default; a required one without
    either, or a name that is not declared, is refused naming it."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise _fail("parameters", "An object of parameter names and values.")
    names = {p["name"] for p in declared}
    for name, value in given.items():
        if name not in names:
            raise _fail(f"parameters.{name}", f"The script has no parameter {name!r}.")
        if not isinstance(value, str | int | float) or isinstance(value, bool) or len(str(value)) > 1024:
            raise _fail(f"parameters.{name}", "Text of at most 1024 characters.")
    values: dict[str, str] = {}
    for p in declared:
        value = str(given[p["name"]]) if p["name"] in given else p.get("default", "")
        if p.get("required") and value == "":
            raise _fail(f"parameters.{p['name']}", f"The parameter {p['name']!r} is required.")
        values[p["name"]] = value
    return values


# -- selectors ------------------------------------------------------------------------------------------

def script_list(*, actor: Any) -> QuerySet[Script]:
    return restrict(Script.objects.all(), actor, READ)


def script_get(*, actor: Any, script_id: Any) -> Script:
    row = script_list(actor=actor).filter(pk=str(script_id)).first()
    if row is None:
        raise NotFound("Script not found.")
    return row


def script_versions(*, script: Script) -> QuerySet[ScriptVersion]:
    return ScriptVersion.objects.filter(script=script).select_related("changed_by").order_by("-version")


def script_run_list(*, actor: Any) -> QuerySet[ScriptRun]:
    return restrict(ScriptRun.objects.all(), actor, READ)


def script_run_get(*, actor: Any, run_id: Any) -> ScriptRun:
    row = script_run_list(actor=actor).select_related("operation", "actor", "script").filter(pk=str(run_id)).first()
    if row is None:
        raise NotFound("Script run not found.")
    return row


def script_topic_org(user: Any, key: str) -> str | None:
    org_id = script_list(actor=user).filter(pk=key).values_list("organization_id", flat=True).first()
    return str(org_id) if org_id else None


def script_run_topic_org(user: Any, key: str) -> str | None:
    org_id = script_run_list(actor=user).filter(pk=key).values_list("organization_id", flat=True).first()
    return str(org_id) if org_id else None


def instance_choices(*, actor: Any) -> QuerySet[Resource]:
    """The instances the actor may run scripts on, running ones first (the run form's picker)."""
    return restrict(resource_list(actor=actor).filter(type="ecs.instance", deleted=False), actor, COMMAND) \
        .select_related("platform", "project")


# -- the library --------------------------------------------------------------------------------------

def _script_event(script: Script, event: str, actor: Any) -> None:
    emit(script.organization_id, script.topic, {"event": event, "id": script.id, "name": script.name,
                                                "version": script.version,
                                                "actor": getattr(actor, "username", "") or ""})


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 128:
        raise _fail("name", "1 to 128 characters.")
    return name.strip()


def script_create(*, actor: Any, organization: Any, project: Any = None, name: str, description: str = "",
                  language: str = "shell", content: str, parameters: list[dict[str, Any]] | None = None,
                  timeout_seconds: int = 60) -> Script:
    """A saved script of ``organization`` (or of ``project`` in it); the name is unique in the organization."""
    if project is not None and project.organization_id != organization.pk:
        raise _fail("project", "The project is not in the organization.")
    require(actor, WRITE, Script(organization=organization, project=project))
    values = {"name": _clean_name(name), "description": _clean_description(description),
              "language": clean_language(language), "content": clean_content(content),
              "timeout_seconds": clean_timeout(timeout_seconds)}
    values["parameters"] = clean_parameters(parameters or [], values["content"])
    user = actor if getattr(actor, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            script = Script.objects.create(organization=organization, project=project, created_by=user,
                                           updated_by=user, **values)
            _keep_version(script, user)
    except IntegrityError:
        raise _fail("name", f"A script named {values['name']!r} already exists.") from None
    _script_event(script, "created", actor)
    return script


def _clean_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > 500:
        raise _fail("description", "Text of at most 500 characters.")
    return description


def _keep_version(script: Script, user: Any) -> None:
    ScriptVersion.objects.create(script=script, version=script.version, name=script.name, language=script.language,
                                 content=script.content, parameters=script.parameters, changed_by=user)


def script_update(*, actor: Any, script: Script, changes: dict[str, Any]) -> Script:
    """Change a script: a new version when anything changed (the old one stays in its history)."""
    require(actor, WRITE, script)
    unknown = set(changes) - {"name", "description", "language", "content", "parameters", "timeout_seconds"}
    if unknown:
        raise _fail(sorted(unknown)[0], "Not a field of a script.")
    values = {"name": script.name, "description": script.description, "language": script.language,
              "content": script.content, "parameters": script.parameters, "timeout_seconds": script.timeout_seconds}
    if "name" in changes:
        values["name"] = _clean_name(changes["name"])
    if "description" in changes:
        values["description"] = _clean_description(changes["description"])
    if "language" in changes:
        values["language"] = clean_language(changes["language"])
    if "content" in changes:
        values["content"] = clean_content(changes["content"])
    if "timeout_seconds" in changes:
        values["timeout_seconds"] = clean_timeout(changes["timeout_seconds"])
    values["parameters"] = clean_parameters(changes.get("parameters", values["parameters"]), values["content"])
    if all(getattr(script, k) == v for k, v in values.items()):
        return script
    user = actor if getattr(actor, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            locked = Script.objects.select_for_update().get(pk=script.pk)
            for key, value in values.items():
                setattr(locked, key, value)
            locked.version += 1
            locked.updated_by = user
            locked.save()
            _keep_version(locked, user)
    except IntegrityError:
        raise _fail("name", f"A script named {values['name']!r} already exists.") from None
    _script_event(locked, "updated", actor)
    return locked


def script_delete(*, actor: Any, script: Script) -> None:
    """Delete a saved script; its runs keep the text they ran."""
    require(actor, WRITE, script)
    with transaction.atomic():
        _script_event(script, "deleted", actor)
        script.delete()


# -- runs ---------------------------------------------------------------------------------------------

def _instances(actor: Any, ids: Any) -> list[Resource]:
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise _fail("instances", "A list of instance ids.")
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise _fail("instances", "Choose at least one instance.")
    if len(ids) > MAX_INSTANCES:
        raise _fail("instances", f"At most {MAX_INSTANCES} instances in one run.")
    try:
        # ``actor=None`` is the system itself (demo data): every instance is in reach.
        base = Resource.objects.all() if actor is None else resource_list(actor=actor)
        rows = {r.pk: r for r in base.filter(pk__in=ids, deleted=False).select_related("platform", "project")}
    except (ValueError, ValidationError):
        rows = {}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound("Instance not found.", detail={"instances": [f"{missing[0]}: not found"]})
    found = [rows[i] for i in ids]
    for row in found:
        if row.type != "ecs.instance":
            raise _fail("instances", f"{row.pk} is a {row.type}, not an instance.")
    for row in found:
        if actor is not None and not authorize(actor, COMMAND, row):
            raise Forbidden(f"You may not run scripts on {row.name or row.external_id} ({COMMAND}).",
                            detail={"permission": COMMAND, "instances": [row.pk]})
    for row in found:
        if (row.status or "").lower() != "running":
            raise Conflict(f"{row.name or row.external_id} is {row.status or 'in an unknown state'}: a script runs "
                           "only on a running instance.", code="instance_not_running",
                           detail={"instances": [f"{row.pk}: {row.status}"]})
        if not row.platform.is_active:
            raise Conflict(f"The cloud platform {row.platform.name} is disabled.", code="platform_disabled",
                           detail={"instances": [row.pk]})
        if command_module(row.platform.type) is None:
            raise Refused(f"{row.platform.name} ({row.platform.type}) cannot run scripts on instances.",
                          code="unsupported_operation", detail={"instances": [row.pk]})
    organizations = {r.organization_id or r.platform.organization_id for r in found}
    if len(organizations) > 1:
        raise _fail("instances", "The instances belong to several organizations: run the script in each.")
    return found


def script_run_start(*, actor: Any, instances: Any, script: Script | None = None, content: Any = None,
                     language: Any = None, parameters: Any = None, timeout_seconds: Any = None,
                     comment: Any = "") -> ScriptRun:
    """Run a saved ``script`` (or ``content`` typed in) on ``instances`` (inventory ids)."""
    if (script is None) == (content is None):
        raise _fail("script", "Choose a saved script or type one in (not both).")
    if not isinstance(comment, str) or len(comment) > 500:
        raise _fail("comment", "Text of at most 500 characters.")
    if script is not None:
        text, lang, declared, name = script.content, script.language, script.parameters, script.name
        timeout = script.timeout_seconds if timeout_seconds is None else clean_timeout(timeout_seconds)
        if language is not None and language != lang:
            raise _fail("language", f"The script is {lang}.")
    else:
        text = clean_content(content)
        lang = clean_language(language or "shell")
        declared = [{"name": n, "description": "", "default": "", "required": True} for n in placeholders(text)]
        bad = [d["name"] for d in declared if not PARAMETER_RE.match(d["name"])]
        if bad:
            raise _fail("content", f"{{{{{bad[0]}}}}} is not a parameter name (a letter, then letters, digits, '_').")
        name = "Ad hoc script"
        timeout = clean_timeout(60 if timeout_seconds is None else timeout_seconds)
    values = parameter_values(declared, parameters)
    rows = _instances(actor, instances)
    organization = rows[0].organization or rows[0].platform.organization
    projects = {r.project_id for r in rows}
    project = rows[0].project if len(projects) == 1 else None
    groups: dict[tuple[str, str], list[Resource]] = {}
    for row in rows:
        groups.setdefault((str(row.platform_id), row.region), []).append(row)
    now = timezone.now()
    with transaction.atomic():
        run_id = ScriptRun._meta.get_field("id").get_default()
        op = operation_create(organization=organization, kind="ecs.instance.command", actor=actor,
                              target_type="provisioning.script_run", target_id=run_id,
                              target_name=f"{name} on {len(rows)} instance{'s' if len(rows) != 1 else ''}",
                              params={"script": script.pk if script else "", "instances": len(rows)},
                              message="Queued")
        run = ScriptRun.objects.create(
            id=run_id, organization=organization, operation=op, project=project, script=script,
            script_version=script.version if script else None, name=name, language=lang, content=text,
            parameters=values, timeout_seconds=timeout, comment=comment,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            calls=[{"platform": platform, "region": region, "instances": [r.external_id for r in members],
                    "client_token": f"um-{uuid.uuid4().hex}", "invocation": "", "error": ""}
                   for (platform, region), members in groups.items()],
            deadline=now + timedelta(seconds=timeout + DEADLINE_MARGIN), heartbeat_at=now)
        ScriptRunTarget.objects.bulk_create([
            ScriptRunTarget(run=run, resource=r, platform_id=r.platform_id, region=r.region,
                            instance_id=r.external_id, name=r.name or r.external_id) for r in rows])
        emit(organization.pk, run.topic, {
            "event": "started", "id": run.id, "name": name, "script": script.pk if script else "",
            "script_version": run.script_version, "instances": [r.pk for r in rows], "operation": op.id,
            "parameters": sorted(values), "actor": getattr(actor, "username", "") or ""})
        _queue(run)
    return run


def _queue(run: ScriptRun, countdown: float = 0.0) -> None:
    from apps.provisioning.script_tasks import script_run_step_task

    run_id, step = run.id, run.step + 1
    transaction.on_commit(lambda: script_run_step_task.apply_async((run_id, step), countdown=countdown or None))


def script_run_stop(*, actor: Any, run: ScriptRun) -> ScriptRun:
    """Ask the cloud to end what still runs; the next look at the results records them as stopped."""
    for target in run.targets.select_related("resource"):
        if target.resource is not None and not authorize(actor, COMMAND, target.resource):
            raise Forbidden(f"You may not run scripts on {target.name} ({COMMAND}).",
                            detail={"permission": COMMAND})
    if run.phase == Phase.DONE or run.operation.is_final:
        raise Conflict("The run has already ended.", code="run_finished")
    from apps.clouds.models import CloudPlatform

    for call in run.calls:
        if not call["invocation"]:
            continue
        platform = CloudPlatform.objects.get(pk=call["platform"])
        module = command_module(platform.type)
        try:
            module.stop_command(adapter_for(platform, region=call["region"],  # type: ignore[union-attr]
                                            timeout=config.value("CLOUD_TIMEOUT")), call["region"], call["invocation"])
        except CloudCallError as exc:
            raise Conflict(f"The cloud did not stop the script: {exc.code}: {exc.message}",
                           code="cloud_refused", detail={"cloud_code": exc.code}) from None
    emit(run.organization_id, run.topic, {"event": "stop_requested", "id": run.id,
                                          "actor": getattr(actor, "username", "") or ""})
    return run


# -- steps --------------------------------------------------------------------------------------------

def script_run_step(*, run_id: str, step: int) -> tuple[bool, float, int]:
    """Run step ``step`` of a script run. Returns (another step follows, its countdown, its number)."""
    run = ScriptRun.objects.select_related("operation").filter(pk=run_id).first()
    if run is None or run.phase == Phase.DONE or step != run.step + 1:
        return False, 0.0, step
    if run.operation.is_final:
        _end_targets(run, Status.STOPPED, "", "The operation was cancelled.")
        _done(run, step)
        return False, 0.0, step
    ScriptRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    poll = config.value("POLL_SECONDS")
    try:
        if timezone.now() > run.deadline:
            _poll(run)
            _end_targets(run, Status.TIMEOUT, "DeadlineExceeded", "No result from the cloud before the deadline.")
            _finish(run, step)
            return False, 0.0, step
        if run.phase == Phase.CALL:
            sent = _send(run)
            recorded = _advance(run, step, Phase.WAIT, 20, f"Sent to {sent} instance{'s' if sent != 1 else ''}")
            return recorded, poll, step + 1
        _poll(run)
        counts = _counts(run)
        if counts["open"] == 0:
            _finish(run, step)
            return False, 0.0, step
        ended = counts["total"] - counts["open"]
        recorded = _advance(run, step, Phase.WAIT, 20 + 75 * ended // max(1, counts["total"]),
                            f"{ended} of {counts['total']} finished")
        return recorded, poll, step + 1
    except CloudCallError as exc:
        attempts = run.attempts + 1
        if exc.transient and attempts < config.value("MAX_ATTEMPTS"):
            ScriptRun.objects.filter(pk=run.pk).update(attempts=attempts, heartbeat_at=timezone.now())
            return True, min(30.0, 0.25 * (2 ** attempts)), step
        _end_targets(run, Status.ERROR, exc.code, exc.message)
        _finish(run, step)
        return False, 0.0, step


def _adapter(platform_id: str, region: str) -> tuple[Any, ModuleType]:
    from apps.clouds.models import CloudPlatform

    platform = CloudPlatform.objects.get(pk=platform_id)
    module = command_module(platform.type)
    if module is None:
        raise CloudCallError(f"{platform.type} runs no scripts.", code="UnsupportedOperation")
    return adapter_for(platform, region=region, timeout=config.value("CLOUD_TIMEOUT")), module


def _send(run: ScriptRun) -> int:
    """Send each group not sent yet. When the cloud refuses a group because of some of its instances
    (one stopped or deleted since the inventory last saw it), those instances end with the cloud's
    error and the group is sent again without them; a group refused as a whole ends all its instances."""
    sent = 0
    for index, call in enumerate(run.calls):
        if call["invocation"] or call["error"]:
            sent += len(call["instances"]) if call["invocation"] else 0
            continue
        adapter, module = _adapter(call["platform"], call["region"])
        instances = list(call["instances"])
        while instances:
            try:
                invocation = module.run_command(adapter, call["region"], instances, run.content,
                                                language=run.language, parameters=run.parameters or None,
                                                timeout=run.timeout_seconds, name=run.name,
                                                client_token=_client_token(call, instances))
            except CloudCallError as exc:
                if exc.transient:
                    raise
                named = [i for i in instances if i in str(exc.message or "")]
                if not named or len(named) == len(instances):
                    _record_call(run, index, error=f"{exc.code}: {exc.message}"[:500])
                    _end_targets(run, Status.ERROR, exc.code, exc.message, instances=instances,
                                 platform=call["platform"])
                    break
                _end_targets(run, Status.ERROR, exc.code, exc.message, instances=named, platform=call["platform"])
                instances = [i for i in instances if i not in named]
                continue
            _record_call(run, index, invocation=invocation, instances=instances)
            ScriptRunTarget.objects.filter(run=run, platform_id=call["platform"], instance_id__in=instances,
                                           status=Status.QUEUED).update(status=Status.RUNNING,
                                                                        started_at=timezone.now())
            sent += len(instances)
            break
    return sent


def _client_token(call: dict[str, Any], instances: list[str]) -> str:
    """The group's client token; a resend without some refused instances is another request, so it
    gets its own token (the same one again if this step is retried)."""
    dropped = len(call["instances"]) - len(instances)
    return call["client_token"] if not dropped else f"{call['client_token']}-{dropped}"


def _record_call(run: ScriptRun, index: int, **fields: Any) -> None:
    with transaction.atomic():
        locked = ScriptRun.objects.select_for_update().get(pk=run.pk)
        calls = list(locked.calls)
        calls[index] = {**calls[index], **fields}
        locked.calls = calls
        locked.save(update_fields=["calls"])
    run.calls = calls


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(str(value).replace("Z", "+00:00")) if isinstance(value, str) else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _poll(run: ScriptRun) -> None:
    """Read the results of every sent group that has instances still open; store and announce changes."""
    open_targets = list(ScriptRunTarget.objects.filter(run=run).exclude(status__in=ScriptRunTarget.FINAL))
    for call in run.calls:
        if not call["invocation"]:
            continue
        mine = [t for t in open_targets
                if str(t.platform_id) == call["platform"] and t.instance_id in call["instances"]]
        if not mine:
            continue
        adapter, module = _adapter(call["platform"], call["region"])
        results = module.command_results(adapter, call["region"], call["invocation"])
        for target in mine:
            found = results.get(target.instance_id)
            if found is not None:
                _apply(run, target, found)


STATUS_OF = {"pending": Status.RUNNING, "running": Status.RUNNING, "success": Status.SUCCESS,
             "failed": Status.FAILED, "timeout": Status.TIMEOUT, "stopped": Status.STOPPED}


def _apply(run: ScriptRun, target: ScriptRunTarget, found: dict[str, Any]) -> None:
    output = str(found.get("output") or "")
    truncated = len(output) > ScriptRunTarget.OUTPUT_LIMIT
    values = {"status": STATUS_OF.get(found.get("status") or "", Status.RUNNING),
              "exit_code": found.get("exit_code") if isinstance(found.get("exit_code"), int) else None,
              "output": output[:ScriptRunTarget.OUTPUT_LIMIT], "output_truncated": truncated,
              "error_code": str(found.get("error_code") or "")[:128], "error": str(found.get("error") or "")[:500]}
    if all(getattr(target, k) == v for k, v in values.items()):
        return
    for key, value in values.items():
        setattr(target, key, value)
    target.started_at = target.started_at or _time(found.get("started_at")) or timezone.now()
    if target.is_final:
        target.finished_at = _time(found.get("finished_at")) or timezone.now()
    with transaction.atomic():
        target.save()
        _announce_target(run, target)


def _announce_target(run: ScriptRun, target: ScriptRunTarget) -> None:
    emit(run.organization_id, run.topic, {"event": "target_changed", "id": run.id, "target": target.pk,
                                          "instance_id": target.instance_id, "name": target.name,
                                          "status": target.status, "exit_code": target.exit_code,
                                          "output_length": len(target.output)})


def _end_targets(run: ScriptRun, status: str, code: str, message: str, *, instances: list[str] | None = None,
                 platform: str | None = None) -> None:
    rows = ScriptRunTarget.objects.filter(run=run).exclude(status__in=ScriptRunTarget.FINAL)
    if instances is not None:
        rows = rows.filter(instance_id__in=instances, platform_id=platform)
    for target in rows:
        target.status, target.error_code, target.error = status, code[:128], message[:500]
        target.finished_at = timezone.now()
        with transaction.atomic():
            target.save()
            _announce_target(run, target)


def _counts(run: ScriptRun) -> dict[str, int]:
    statuses = list(ScriptRunTarget.objects.filter(run=run).values_list("status", flat=True))
    return {"total": len(statuses), "open": sum(1 for s in statuses if s not in ScriptRunTarget.FINAL),
            "success": sum(1 for s in statuses if s == Status.SUCCESS)}


def _advance(run: ScriptRun, step: int, phase: str, progress: int, message: str) -> bool:
    with transaction.atomic():
        updated = ScriptRun.objects.filter(pk=run.pk, step=step - 1).update(
            step=step, phase=phase, attempts=0, heartbeat_at=timezone.now())
        if not updated:
            return False
        operation_advance(operation_id=run.operation_id, step=step, progress=progress, message=message)
    return True


def _done(run: ScriptRun, step: int) -> bool:
    return bool(ScriptRun.objects.filter(pk=run.pk).exclude(phase=Phase.DONE).update(
        phase=Phase.DONE, step=step, heartbeat_at=timezone.now()))


def _finish(run: ScriptRun, step: int) -> None:
    counts = _counts(run)
    with transaction.atomic():
        if not _done(run, step):
            return
        total, ok = counts["total"], counts["success"]
        summary = f"{ok} of {total} instance{'s' if total != 1 else ''} succeeded"
        if ok == total:
            operation_succeed(operation_id=run.operation_id, message=summary,
                              result={"run": run.id, "succeeded": ok, "failed": 0})
        else:
            failed = ScriptRunTarget.objects.filter(run=run).exclude(status=Status.SUCCESS) \
                .values_list("name", "status", "exit_code")
            detail = "; ".join(f"{n}: {s}" + (f" (exit {c})" if c not in (None, 0) else "") for n, s, c in failed)
            operation_fail(operation_id=run.operation_id, error=f"{summary}. {detail}"[:2000], message=summary)
        emit(run.organization_id, run.topic, {"event": "finished", "id": run.id, "succeeded": ok,
                                              "failed": total - ok})


def script_run_reconcile(*, stale_after: float | None = None) -> int:
    """Re-queue runs whose step task was lost (a worker died holding it) at their next step."""
    cutoff = timezone.now() - timedelta(seconds=stale_after if stale_after is not None
                                        else config.value("STALE_SECONDS"))
    resumed = 0
    for run in ScriptRun.objects.filter(phase__in=[Phase.CALL, Phase.WAIT], heartbeat_at__lt=cutoff) \
            .order_by("heartbeat_at")[:500]:
        with transaction.atomic():
            if ScriptRun.objects.filter(pk=run.pk, step=run.step, heartbeat_at__lt=cutoff).update(
                    heartbeat_at=timezone.now()):
                _queue(run)
                resumed += 1
    return resumed


def run_summary(run: ScriptRun) -> dict[str, Any]:
    """Counts of a run's instances by status, for lists."""
    counts: dict[str, int] = {}
    for status in run.targets.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts

