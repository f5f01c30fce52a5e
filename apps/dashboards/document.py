"""The dashboard JSON document and its validation.

::

    {"uid": "ops-wall", "title": "Operations", "refresh": 60, "stale_after": 120,
     "variables": [{"name": "organization", "value": null}],
     "widgets": [{"id": "w1", "type": "stat", "title": "Running", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
                  "query": {"name": "core.operations_running", "params": {}},
                  "options": {"unit": "", "decimals": 0, "color": "#206bc4",
                              "thresholds": [{"value": 10, "color": "#d63939"}]}}]}

``gridPos`` is on a 24-column grid (``x + w <= 24``). A widget type or query the registry
(``apps.core.widgets``) does not know is refused with a 400 naming it and where it is.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from apps.core.errors import InvalidInput
from apps.core.widgets import get_query, get_widget_kind, params_errors

UID_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
WIDGET_ID_RE = re.compile(r"\A[A-Za-z0-9_\-]{1,32}\Z")
COLOR_RE = re.compile(r"\A#[0-9a-fA-F]{6}\Z")
COLUMNS = 24
MAX_WIDGETS = 60
MAX_ROWS = 200
VARIABLES = ("organization",)
RESERVED_UIDS = {"import", "new", "data-sources", "homes"}  # addresses of the API and the pages
KEYS = {"uid", "title", "refresh", "stale_after", "variables", "widgets", "description", "schema_version"}


def new_uid() -> str:
    return f"d-{secrets.token_hex(5)}"


def _int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _options_errors(options: Any, where: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        errors[where] = ["An object."]
        return {}
    clean: dict[str, Any] = {}
    unit = options.get("unit", "")
    if not isinstance(unit, str) or len(unit) > 16:
        errors[f"{where}.unit"] = ["Text of at most 16 characters."]
    else:
        clean["unit"] = unit
    if "decimals" in options:
        if not _int(options["decimals"], 0, 6):
            errors[f"{where}.decimals"] = ["A whole number from 0 to 6."]
        else:
            clean["decimals"] = options["decimals"]
    if "color" in options:
        if not isinstance(options["color"], str) or not COLOR_RE.match(options["color"]):
            errors[f"{where}.color"] = ["A colour such as #206bc4."]
        else:
            clean["color"] = options["color"]
    if "max" in options:
        if isinstance(options["max"], bool) or not isinstance(options["max"], (int, float)):
            errors[f"{where}.max"] = ["A number."]
        else:
            clean["max"] = options["max"]
    thresholds = options.get("thresholds", [])
    if not isinstance(thresholds, list) or len(thresholds) > 10:
        errors[f"{where}.thresholds"] = ["A list of at most 10 thresholds."]
    else:
        clean_t = []
        for i, t in enumerate(thresholds):
            ok = (isinstance(t, dict) and not isinstance(t.get("value"), bool)
                  and isinstance(t.get("value"), (int, float))
                  and isinstance(t.get("color"), str) and COLOR_RE.match(t["color"]))
            if not ok:
                errors[f"{where}.thresholds[{i}]"] = ['{"value": number, "color": "#rrggbb"}.']
            else:
                clean_t.append({"value": t["value"], "color": t["color"]})
        clean["thresholds"] = sorted(clean_t, key=lambda t: t["value"])
    return clean


def _widget(w: Any, i: int, seen: set[str], errors: dict[str, list[str]]) -> dict[str, Any] | None:
    where = f"widgets[{i}]"
    if not isinstance(w, dict):
        errors[where] = ["A widget object."]
        return None
    wid = w.get("id")
    if not isinstance(wid, str) or not WIDGET_ID_RE.match(wid):
        errors[f"{where}.id"] = ["1 to 32 letters, digits, '_' or '-'."]
    elif wid in seen:
        errors[f"{where}.id"] = [f"Duplicate widget id {wid!r}."]
    else:
        seen.add(wid)
    kind = get_widget_kind(w.get("type"))
    if kind is None:
        errors[f"{where}.type"] = [f"Unknown widget type {str(w.get('type'))[:64]!r}."]
    title = w.get("title", "")
    if not isinstance(title, str) or len(title) > 128:
        errors[f"{where}.title"] = ["Text of at most 128 characters."]
    pos = w.get("gridPos")
    if not isinstance(pos, dict) or not all(_int(pos.get(k), 0, 10_000) for k in ("x", "y", "w", "h")):
        errors[f"{where}.gridPos"] = ['{"x", "y", "w", "h"}: whole numbers.']
    elif not (pos["x"] < COLUMNS and 1 <= pos["w"] <= COLUMNS and pos["x"] + pos["w"] <= COLUMNS
              and 1 <= pos["h"] <= 40 and pos["y"] + pos["h"] <= MAX_ROWS):
        errors[f"{where}.gridPos"] = [f"Inside the {COLUMNS}-column grid: x + w <= {COLUMNS}, 1 <= h <= 40."]
    q = w.get("query")
    query = None
    if not isinstance(q, dict):
        errors[f"{where}.query"] = ['{"name": "<app>.<query>", "params": {...}}.']
    else:
        query = get_query(q.get("name"))
        if query is None:
            errors[f"{where}.query.name"] = [f"Unknown query {str(q.get('name'))[:64]!r}."]
        else:
            for name, message in params_errors(query, q.get("params")).items():
                errors[f"{where}.query.params.{name}"] = [message]
            if kind is not None and query.shape not in kind.shapes:
                errors[f"{where}.type"] = [f"A {kind.name} widget cannot show {query.name} ({query.shape})."]
    options = _options_errors(w.get("options"), f"{where}.options", errors)
    if kind is None or query is None or not isinstance(pos, dict):
        return None
    return {"id": wid, "type": kind.name, "title": title or query.label,
            "gridPos": {k: pos[k] for k in ("x", "y", "w", "h")},
            "query": {"name": query.name, "params": dict(q.get("params") or {})}, "options": options}


def clean_widget(widget: Any) -> dict[str, Any]:
    """One validated widget (for a preview in the editor); a 400 naming each bad field otherwise."""
    errors: dict[str, list[str]] = {}
    cleaned = _widget(widget, 0, set(), errors)
    if errors or cleaned is None:
        errors = {k.replace("widgets[0]", "widget"): v for k, v in errors.items()} or {"widget": ["Invalid."]}
        summary = "; ".join(f"{field}: {messages[0]}" for field, messages in list(errors.items())[:3])
        raise InvalidInput(summary, detail=errors)
    return cleaned


def clean_document(doc: Any, *, uid: str | None = None) -> dict[str, Any]:
    """The validated, normalized document; ``InvalidInput`` (400) naming every bad field otherwise.
    ``uid`` (when given) is the uid the document must have, or gets when it has none."""
    if not isinstance(doc, dict):
        raise InvalidInput("The dashboard must be a JSON object.", detail={"document": ["A JSON object."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(doc) - KEYS)
    if unknown:
        errors[str(unknown[0])[:64]] = ["Unknown field."]
    doc_uid = doc.get("uid") or uid or new_uid()
    if not isinstance(doc_uid, str) or not UID_RE.match(doc_uid) or doc_uid in RESERVED_UIDS:
        errors["uid"] = ["1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."]
    elif uid is not None and doc_uid != uid:
        errors["uid"] = [f"This dashboard's uid is {uid!r}."]
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 128:
        errors["title"] = ["Required, at most 128 characters."]
    refresh = doc.get("refresh", 60)
    if not (_int(refresh, 0, 0) or _int(refresh, 5, 86_400)):
        errors["refresh"] = ["Seconds between reloads: 0 (never) or 5 to 86400."]
    stale_after = doc.get("stale_after", 300)
    if not _int(stale_after, 10, 86_400):
        errors["stale_after"] = ["Seconds without news after which a widget is shown stale: 10 to 86400."]
    description = doc.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        errors["description"] = ["Text of at most 500 characters."]
    variables = doc.get("variables", [])
    clean_vars = []
    if not isinstance(variables, list) or len(variables) > len(VARIABLES):
        errors["variables"] = [f"A list of variables ({', '.join(VARIABLES)})."]
    else:
        for i, v in enumerate(variables):
            if not isinstance(v, dict) or v.get("name") not in VARIABLES:
                errors[f"variables[{i}].name"] = [f"One of {', '.join(VARIABLES)}."]
            elif v.get("value") is not None and not isinstance(v.get("value"), str):
                errors[f"variables[{i}].value"] = ["An id, or null."]
            else:
                clean_vars.append({"name": v["name"], "value": v.get("value")})
    widgets = doc.get("widgets", [])
    clean_widgets = []
    if not isinstance(widgets, list) or len(widgets) > MAX_WIDGETS:
        errors["widgets"] = [f"A list of at most {MAX_WIDGETS} widgets."]
    else:
        seen: set[str] = set()
        for i, w in enumerate(widgets):
            cleaned = _widget(w, i, seen, errors)
            if cleaned is not None:
                clean_widgets.append(cleaned)
    if errors:
        summary = "; ".join(f"{field}: {messages[0]}" for field, messages in list(errors.items())[:3])
        raise InvalidInput(summary + ("; ..." if len(errors) > 3 else ""), detail=errors)
    return {"schema_version": 1, "uid": doc_uid, "title": title.strip(), "description": description,
            "refresh": refresh, "stale_after": stale_after, "variables": clean_vars, "widgets": clean_widgets}
