"""Message templates in a sandboxed template language (Jinja2's ``ImmutableSandboxedEnvironment``).

A template sees only the variables it is given, all plain data (text, numbers, lists, dicts) that it
cannot change:
no settings, no models, no functions, no globals, no loader (``include``/``import`` reach no
file). Reaching for an attribute that starts with ``_`` or a method that is not allowed is a
``SecurityError``; an unknown variable is an error rather than an empty string. Any failure is a
400 naming the field, so an operator's mistake never reaches a receiver as a broken message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from apps.core.errors import InvalidInput

MAX_OUTPUT = 20_000

DEFAULT_SUBJECT = "[{{ status | upper }}{% if status == 'firing' %}:{{ firing | length }}{% endif %}] {{ title }}"
DEFAULT_BODY = (
    "{% for a in alerts %}- [{{ a.severity }}] {{ a.name }}: {{ a.state }}"
    "{% if a.value is not none %} (value {{ a.value }}){% endif %}"
    "{% if a.labels.get('resource_name') %} on {{ a.labels.resource_name }}{% endif %}"
    "{% if a.summary %} — {{ a.summary }}{% endif %}\n{% endfor %}{{ link }}")

SAMPLE = {
    "status": "firing", "title": "High CPU (platform cp-demo)", "link": "http://console.example/console/alerts/",
    "group_labels": {"alertname": "High CPU", "platform": "cp-demo"},
    "alerts": [{"name": "High CPU", "state": "firing", "severity": "critical", "value": 91.5,
                "summary": "CPU above 80%",
                "labels": {"alertname": "High CPU", "resource_name": "web-1", "platform": "cp-demo"},
                "starts_at": "2026-01-01T00:00:00+00:00", "ends_at": None, "id": "alert-0"}],
    "event": {}, "organization": "Demo",
}
SAMPLE["firing"] = SAMPLE["alerts"]
SAMPLE["resolved"] = []
# What ``event`` holds in the notifications that are not alert groups, by event type.
EVENT_SAMPLES = {
    "budget_crossed": {"budget": "budget-1", "name": "IT department", "threshold": 80, "period": "2026-01",
                       "spend": "8000.00", "amount": "10000.00", "basis": "actual", "project": None},
    "approval_waiting": {"request": "req-0"},
    "operation_failed": {"id": "op-0", "kind": "ecs.instance.start", "error": "OperationDenied", "target": "i-0"},
}


class _Environment(ImmutableSandboxedEnvironment):
    # Repeating text or lists and powers are bounded, so a template cannot exhaust memory or time.
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and (abs(right) > 64 if isinstance(right, int | float) else True):
            raise SecurityError("Powers above 64 are not allowed.")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                    raise SecurityError("The result would be too long.")
        return super().call_binop(context, operator, left, right)

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, loader=None)
        # Nothing but the template's own variables: no range/dict/lipsum/cycler/joiner/namespace.
        self.globals.clear()


_env = _Environment()


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    # Compiling costs milliseconds; every notification of an organization renders the same few sources.
    return _env.from_string(source)


def render(source: str, variables: dict[str, Any], *, field: str = "body") -> str:
    """``source`` rendered with ``variables``, or a 400 naming ``field``."""
    try:
        text = _compiled(source).render(**variables)
    except TemplateError as exc:  # SecurityError, UndefinedError and syntax errors are all TemplateErrors
        raise InvalidInput(f"The {field} template cannot be rendered: {exc}.",
                           detail={field: [f"{type(exc).__name__}: {exc}"]}) from None
    except Exception as exc:  # noqa: BLE001 - an operator's template must never become a 500
        raise InvalidInput(f"The {field} template failed: {exc}.", detail={field: [f"{type(exc).__name__}: {exc}"]}
                           ) from None
    return text[:MAX_OUTPUT]


def sample(event_type: str = "alert") -> dict[str, Any]:
    """The variables a template of ``event_type`` is checked and previewed with."""
    return {**SAMPLE, "event": EVENT_SAMPLES.get(event_type, {})}


def check(subject: str, body: str, event_type: str = "alert") -> tuple[str, str]:
    """Render both parts against sample variables: the preview, and the check made before saving."""
    variables = sample(event_type)
    return render(subject, variables, field="subject"), render(body, variables, field="body")
