"""Sessions are recorded when a person signs in and closed when they sign out."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out


def _closed(sender: Any, request: Any, user: Any, **_: Any) -> None:
    from apps.security.services import session_ended

    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        session_ended(session_key=key, reason="signed_out")


def connect() -> None:
    user_logged_out.connect(_closed, dispatch_uid="security-session-closed")
