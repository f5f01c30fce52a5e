"""Sessions and wall screens on the websocket.

A session that ends (signed out, signed out everywhere, revoked in the security center, a new
password) closes the sockets opened with it once the ending commits, and so does disabling the
person. The session store's own deletion is the trigger, so every way of ending a session is
covered without each one remembering to announce it.

A socket opened by a display-token session may follow only the topics of its dashboards
(``dashboard:<id>``, ``screen:<id>``), re-checked on every subscription so a revoked token stops at
once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.urls import reverse
from django.utils.module_loading import import_string

from apps.core.events import send_to_group
from apps.core.realtime import SESSION_REVOKED, TOPIC_RE, session_group
from apps.security.models import UserSession

logger = logging.getLogger(__name__)


def session_sockets_close(session_keys: Iterable[str]) -> None:
    """Once the current transaction commits, close the sockets opened with these sessions."""
    groups = [session_group(key) for key in session_keys if key]
    if not groups:
        return

    def deliver() -> None:
        for group in groups:
            try:
                send_to_group(group, {"type": SESSION_REVOKED})
            except Exception:
                # Best effort, like every event: the session is gone whatever happens to its sockets.
                logger.exception("could not close the sockets of a revoked session")

    transaction.on_commit(deliver)


def _session_deleted(sender: Any, instance: Any, **_: Any) -> None:
    session_sockets_close([instance.session_key])


def _person_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **_: Any) -> None:
    """A disabled person's sessions stop authenticating; their open sockets close as well."""
    if created or instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return
    session_sockets_close(UserSession.objects.filter(user=instance, ended_at__isnull=True)
                          .values_list("session_key", flat=True))

SCREEN_TOPIC_KINDS = ("dashboard", "screen")


class DisplayTokenPrincipal:
    is_authenticated = True
    is_active = True
    is_superuser = False
    pk = None

    def __init__(self, token_id: str, ip: str | None):
        self.token_id, self.ip = token_id, ip

    @property
    def signin_url(self) -> str:
        return reverse("wallscreens:signin")

    def resolve_topic(self, topic: Any) -> str | None:
        from apps.security.services import DisplayTokenRefused, display_token_check

        match = TOPIC_RE.match(topic) if isinstance(topic, str) else None
        if match is None or match["kind"] not in SCREEN_TOPIC_KINDS:
            return None
        try:
            token = display_token_check(token_id=self.token_id, ip=self.ip)
        except DisplayTokenRefused:
            return None
        return str(token.organization_id) if match["key"] in token.dashboards else None


@database_sync_to_async
def _principal(scope: dict[str, Any]) -> DisplayTokenPrincipal | None:
    from apps.security.services import DisplayTokenRefused, display_token_check
    from apps.security.views import SCREEN_TOKEN

    session = scope.get("session")
    token_id = session.get(SCREEN_TOKEN) if session is not None else None
    if not token_id:
        return None
    client = scope.get("client") or [None]
    try:
        display_token_check(token_id=token_id, ip=client[0])
    except DisplayTokenRefused:
        return None
    return DisplayTokenPrincipal(str(token_id), client[0])


async def find_principal(scope: dict[str, Any]) -> DisplayTokenPrincipal | None:
    return await _principal(scope)


def register() -> None:
    from apps.core.consumers import socket_principals

    if find_principal not in socket_principals:
        socket_principals.append(find_principal)
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    # Database-backed stores (db, cached_db) delete a session row by row, which Django signals. The
    # receiver is bound to that one model: a receiver for every model would slow every bulk delete.
    if hasattr(store, "get_model_class"):
        post_delete.connect(_session_deleted, sender=store.get_model_class(), dispatch_uid="security-session-sockets")
    post_save.connect(_person_saved, sender=get_user_model(), dispatch_uid="security-disabled-person-sockets")
