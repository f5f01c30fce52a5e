"""Dashboards as code: the JSON files of a folder loaded at start.

The folder is the ``DASHBOARDS_DIR`` setting, else the ``UNIMANAGER_DASHBOARDS_DIR`` environment
variable; unset, nothing is loaded. It is read after every ``migrate`` (which ``make run`` and the
container run before serving) and by ``manage.py load_dashboards``. Each ``*.json`` file (not
recursive, sorted by name) is one dashboard, either an exported document (owned by the first
top-level organization) or ``{"organization": "<name or id>", "dashboard": {...document...}}``.

A file is validated like an import through the API. A new uid is created; a known uid of the same
organization gets a new version when its document changed and is left alone when not; a uid of
another organization is refused. Whatever is wrong with a file (unreadable, too large, not JSON,
an unknown widget type or query, an unknown organization) is reported for that file, in the log
and in the result, and the other files are loaded: a bad file never stops the start.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from apps.core.errors import ApplicationError

logger = logging.getLogger(__name__)

MAX_FILES = 200
MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Loaded:
    file: str
    status: str  # created | updated | unchanged | error
    uid: str = ""
    error: str = ""


def configured_folder() -> Path | None:
    value = getattr(settings, "DASHBOARDS_DIR", None) or os.environ.get("UNIMANAGER_DASHBOARDS_DIR", "")
    return Path(value) if value else None


def load_folder(folder: Path | str | None = None) -> list[Loaded]:
    """Load every dashboard file of ``folder`` (the configured one by default); one result per file."""
    folder = Path(folder) if folder is not None else configured_folder()
    if folder is None:
        return []
    if not folder.is_dir():
        logger.warning("dashboards folder %s is not a folder: nothing loaded", folder)
        return [Loaded(str(folder), "error", error="Not a folder.")]
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file())
    results = [Loaded(p.name, "error", error=f"More than {MAX_FILES} files: left out.") for p in files[MAX_FILES:]]
    results = [load_file(p) for p in files[:MAX_FILES]] + results
    for r in results:
        if r.status == "error":
            logger.warning("dashboard file %s not loaded: %s", r.file, r.error)
        else:
            logger.info("dashboard file %s: %s %s", r.file, r.status, r.uid)
    return results


def load_file(path: Path) -> Loaded:
    name = path.name
    try:
        if path.stat().st_size > MAX_BYTES:
            return Loaded(name, "error", error=f"Larger than {MAX_BYTES // 1024} KiB.")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return Loaded(name, "error", error=f"Cannot be read: {exc.__class__.__name__}.")
    except json.JSONDecodeError as exc:
        return Loaded(name, "error", error=f"Not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
    try:
        return _load(name, raw)
    except ApplicationError as exc:
        return Loaded(name, "error", error=_describe(exc))
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the start; the log has the cause
        logger.exception("dashboard file %s failed", name)
        return Loaded(name, "error", error=f"Failed: {exc.__class__.__name__}.")


def _describe(exc: ApplicationError) -> str:
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    fields = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                       for k, v in list(detail.items())[:5])
    return f"{exc.message} ({fields})" if fields else exc.message


def _organization(ref: Any) -> Any:
    from apps.organizations.models import Organization

    if ref in (None, ""):
        return Organization.objects.filter(parent=None).order_by("created_at", "name").first()
    if not isinstance(ref, str):
        return None
    try:
        found = Organization.objects.filter(pk=ref).first()
    except (ValueError, ValidationError):
        found = None
    return found or Organization.objects.filter(name=ref).order_by("path").first()


def _load(name: str, raw: Any) -> Loaded:
    from apps.core.errors import InvalidInput
    from apps.dashboards import services
    from apps.dashboards.document import clean_document
    from apps.dashboards.models import Dashboard

    if isinstance(raw, dict) and "dashboard" in raw:
        org_ref, document = raw.get("organization"), raw["dashboard"]
    else:
        org_ref, document = None, raw
    if not isinstance(document, dict) or not isinstance(document.get("uid"), str):
        raise InvalidInput("A dashboard file needs a document with a uid.", detail={"uid": ["Required."]})
    org = _organization(org_ref)
    if org is None:
        raise InvalidInput(f"Organization {str(org_ref)[:64]!r} was not found.",
                           detail={"organization": ["Not found."]})
    clean = clean_document(document)
    existing = Dashboard.objects.filter(pk=clean["uid"]).first()
    if existing is None:
        row = services.dashboard_create(actor=None, organization=org, document=clean, message=f"loaded from {name}")
        return Loaded(name, "created", row.uid)
    if existing.organization_id != org.pk:
        raise InvalidInput(f"The uid {clean['uid']!r} belongs to a dashboard of another organization.",
                           detail={"uid": ["Taken."]})
    if existing.document == clean:
        return Loaded(name, "unchanged", existing.uid)
    services.dashboard_save(actor=None, dashboard=existing, document=clean, message=f"loaded from {name}")
    return Loaded(name, "updated", existing.uid)


def load_after_migrate(**kwargs: Any) -> None:
    """``post_migrate``: load the configured folder, if any (never raising)."""
    if configured_folder() is None:
        return
    try:
        load_folder()
    except Exception:  # noqa: BLE001 - a migration must not fail because of a dashboard folder
        logger.exception("loading the dashboards folder failed")
