"""Writes of the security app: lockouts, MFA, sessions, AccessKey pairs, display tokens, policies.

Every service that changes something announces it with ``emit`` (so the audit log records it with
the actor and request), checks that ``actor`` may do it, and changes nothing when it refuses.
Whoever acts on another person's credentials (MFA, exemption, sessions, AccessKey pairs) passes the
people app's one rule for it, ``require_may_change_credentials``: a duty holder's credentials are
theirs and a platform administrator's alone. ``SIGNIN_HOOKS`` is what this app does for the people
side (password resets and deactivations end sessions and AccessKey pairs; wrong current passwords
count toward the lockout), installed from ``apps.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, Refused, Throttled
from apps.core.events import emit
from apps.core.scoping import require
from apps.organizations.services import SignInHooks, require_may_change_credentials
from apps.security import audit, crypto, totp
from apps.security.models import (
    AccessKey,
    AccountSecurity,
    AuditEntry,
    DisplayToken,
    RecoveryCode,
    SecurityPolicy,
    SignInLock,
    UsedNonce,
    UserSession,
)
from apps.security.policy import effective_policy

RECOVERY_CODES = 10
# A dashboard id is a path segment of its screen address (``urls_screens``), so it starts with a
# letter or digit: "." and ".." would be resolved away by browsers.
DASHBOARD_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
DASHBOARD_ID_RE = re.compile(rf"\A{DASHBOARD_ID_PATTERN}\Z")
DISPLAY_TOKEN_PREFIX = "umdt_"


def _announce(org_id: Any, topic: str, event: str, **data: Any) -> None:
    emit(org_id, topic, {"event": event, **{k: v if isinstance(v, bool | int | list | dict) or v is None else str(v)
                                            for k, v in data.items()}})


def _home_org_id(user: Any) -> Any:
    membership = user.memberships.order_by("joined_at").first() if user is not None and user.pk else None
    return membership.organization_id if membership else None


# -- sign-in lockout ---------------------------------------------------------------------------

def account_key(username: Any) -> str:
    return str(username or "").strip().lower()[:150]


def lock_state(*, username: str, ip: str | None) -> SignInLock | None:
    """The lock that refuses this sign-in now (account first, then client address), if any."""
    now = timezone.now()
    keys = [(SignInLock.Kind.ACCOUNT, account_key(username))]
    if ip:
        keys.append((SignInLock.Kind.ADDRESS, ip))
    for kind, key in keys:
        lock = SignInLock.objects.filter(kind=kind, key=key, locked_until__gt=now).first()
        if lock is not None:
            return lock
    return None


def _account_limits(username: str) -> tuple[int, int]:
    from apps.organizations.models import User

    user = User.objects.filter(username=username).first() if username else None
    policy = effective_policy(user)
    return max(1, policy.lockout_threshold), max(1, policy.lockout_minutes)


def signin_failure_record(*, username: str, ip: str | None) -> SignInLock | None:
    """Count one failed sign-in against the account name and the client address; returns the lock
    that this failure started, if it reached a threshold."""
    now = timezone.now()
    started = None
    limits = [(SignInLock.Kind.ACCOUNT, account_key(username), *_account_limits(username))]
    if ip:
        limits.append((SignInLock.Kind.ADDRESS, ip, settings.SIGNIN_IP_THRESHOLD, settings.SIGNIN_IP_LOCKOUT_MINUTES))
    for kind, key, threshold, minutes in limits:
        if not key:
            continue
        with transaction.atomic():
            lock, _ = SignInLock.objects.select_for_update().get_or_create(
                kind=kind, key=key, defaults={"first_failure_at": now, "last_failure_at": now})
            window = timedelta(minutes=minutes)
            if lock.first_failure_at < now - window and not (lock.locked_until and lock.locked_until > now):
                lock.failures, lock.first_failure_at = 0, now
            lock.failures += 1
            lock.last_failure_at = now
            if lock.failures >= threshold and not (lock.locked_until and lock.locked_until > now):
                lock.locked_until = now + window
                started = started or lock
            lock.save()
    return started


def signin_success_record(*, username: str) -> None:
    SignInLock.objects.filter(kind=SignInLock.Kind.ACCOUNT, key=account_key(username)).delete()


def signin_completed(*, user: Any, session_key: str, ip: str | None, user_agent: str, with_mfa: bool,
                     method: str = "password") -> None:
    """A person signed in (the page has logged them in): their failed attempts are forgotten, the
    session is listed among theirs and the audit log records how they signed in."""
    signin_success_record(username=user.get_username())
    session_record(user=user, session_key=session_key, ip=ip, user_agent=user_agent, with_mfa=with_mfa)
    audit.append(action="signin.succeeded", actor=user, target_type="user", target_id=user.pk,
                 target_label=user.get_username(), organization_id=_home_org_id(user),
                 detail={"method": method, "mfa": with_mfa})


def signin_failed(*, username: str, ip: str | None, reason: str, user: Any = None,
                  signed_in: bool = False) -> SignInLock | None:
    """A wrong password or code: it counts toward the lockout of the account name and of the client
    address, and the audit log records it and the lock it started, if any (returned). ``signed_in``:
    the person was signed in (a wrong current password), so the entries name them as the actor."""
    username = str(username or "")[:150]
    started = signin_failure_record(username=username, ip=ip)
    who: dict[str, Any] = {"actor": user} if signed_in else {"actor_name": username}
    audit.append(action="signin.failed", result=AuditEntry.Result.FAILURE, **who, target_type="user",
                 target_id=getattr(user, "pk", "") or "", target_label=username,
                 organization_id=_home_org_id(user) if signed_in else None, detail={"reason": reason})
    if started is not None:
        audit.append(action="signin.locked", result=AuditEntry.Result.DENIED, **who,
                     target_type=f"signin_lock.{started.kind}", target_id=started.pk, target_label=started.key,
                     detail={"failures": started.failures, "until": started.locked_until.isoformat()})
    return started


def signin_refused(*, username: str, user: Any = None, step: str = "") -> None:
    """A sign-in refused because the account name or the client address is locked (no password or
    code was checked), for the audit log."""
    username = str(username or "")[:150]
    audit.append(action="signin.refused", result=AuditEntry.Result.DENIED, actor_name=username, target_type="user",
                 target_id=getattr(user, "pk", "") or "", target_label=username,
                 detail={"reason": "locked", **({"step": step} if step else {})})


def _refuse_when_locked(user: Any, ip: str | None) -> None:
    """A password check of ``user`` (changing their own password) is refused, like a sign-in,
    while their account name or the client address is locked."""
    lock = lock_state(username=user.get_username(), ip=ip)
    if lock is not None:
        who = "this account" if lock.kind == SignInLock.Kind.ACCOUNT else "your address"
        raise Throttled(f"Too many wrong passwords: {who} is locked until {lock.locked_until:%H:%M} UTC. "
                        "An administrator can unlock it sooner.", code="signin_locked",
                        detail={"locked_until": lock.locked_until.isoformat(), "kind": lock.kind})


def _count_wrong_password(user: Any, ip: str | None) -> None:
    """A wrong current password counts as a failed sign-in of the account (and the address)."""
    signin_failed(username=user.get_username(), ip=ip, reason="current_password", user=user, signed_in=True)


@transaction.atomic
def lock_release(*, actor: Any, lock: SignInLock) -> None:
    """An administrator unlocks an account name or a client address before its time runs out."""
    require(actor, "security:lockout:write", None)
    payload = {"kind": lock.kind, "key": lock.key, "failures": lock.failures,
               "locked_until": lock.locked_until.isoformat() if lock.locked_until else None}
    SignInLock.objects.filter(pk=lock.pk).delete()
    _announce(None, f"signin_lock:{lock.pk}", "released", name=lock.key, **payload)


# -- MFA ---------------------------------------------------------------------------------------

def _recovery_hash(code: str) -> str:
    normalized = "".join(code.split()).replace("-", "").lower()
    key = hashlib.sha256(b"unimanager-recovery:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()


def _new_recovery_code() -> str:
    raw = secrets.token_hex(5)
    return f"{raw[:5]}-{raw[5:]}"


def _security_for_update(user: Any) -> AccountSecurity:
    AccountSecurity.objects.get_or_create(user=user)
    return AccountSecurity.objects.select_for_update().get(user=user)


@transaction.atomic
def mfa_enrollment_start(*, user: Any) -> tuple[str, str]:
    """A new secret waiting for its first code; returns (secret, otpauth URI) for the QR code."""
    sec = _security_for_update(user)
    if sec.mfa_enabled:
        raise Conflict("MFA is already enabled for this account.", code="mfa_already_enabled")
    secret = totp.new_secret()
    sec.mfa_pending_secret = crypto.encrypt(secret)
    sec.save(update_fields=["mfa_pending_secret"])
    _announce(_home_org_id(user), f"mfa:{user.pk}", "enrolment_started", name=user.get_username())
    return secret, totp.provisioning_uri(secret, account=user.get_username(), issuer=settings.MFA_ISSUER)


def mfa_pending_secret(*, user: Any) -> str | None:
    sec = AccountSecurity.objects.filter(user=user).first()
    if sec is None or not sec.mfa_pending_secret:
        return None
    return crypto.decrypt(sec.mfa_pending_secret)


@transaction.atomic
def mfa_enrollment_confirm(*, user: Any, code: str) -> list[str]:
    """The first valid code turns MFA on; returns the recovery codes, shown this once."""
    sec = _security_for_update(user)
    if sec.mfa_enabled:
        raise Conflict("MFA is already enabled for this account.", code="mfa_already_enabled")
    if not sec.mfa_pending_secret:
        raise Refused("Start the enrolment first.", code="mfa_not_started")
    secret = crypto.decrypt(sec.mfa_pending_secret)
    step = totp.matching_step(secret, str(code or ""))
    if step is None:
        raise InvalidInput("The code is not valid; check the time on your device.", code="mfa_code_invalid",
                           detail={"code": ["Not valid."]})
    sec.mfa_secret, sec.mfa_pending_secret = sec.mfa_pending_secret, ""
    sec.mfa_confirmed_at, sec.mfa_last_step = timezone.now(), step
    sec.save()
    codes = _replace_recovery_codes(user)
    _announce(_home_org_id(user), f"mfa:{user.pk}", "enabled", name=user.get_username())
    return codes


def _replace_recovery_codes(user: Any) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_recovery_hash(c)) for c in codes])
    return codes


@transaction.atomic
def mfa_check(*, user: Any, code: str) -> str | None:
    """``"totp"`` or ``"recovery"`` when ``code`` is the current code (never one already used) or an
    unused recovery code (used up by this call); ``None`` otherwise."""
    sec = _security_for_update(user)
    if not sec.mfa_enabled:
        return None
    code = str(code or "").strip()
    if len(code) > 64:
        return None
    step = totp.matching_step(crypto.decrypt(sec.mfa_secret), code)
    if step is not None:
        if step <= sec.mfa_last_step:
            return None
        sec.mfa_last_step = step
        sec.save(update_fields=["mfa_last_step"])
        return "totp"
    if not code:
        return None
    used = RecoveryCode.objects.filter(user=user, code_hash=_recovery_hash(code), used_at__isnull=True).update(
        used_at=timezone.now())
    if used:
        _announce(_home_org_id(user), f"mfa:{user.pk}", "recovery_code_used", name=user.get_username(),
                  remaining=RecoveryCode.objects.filter(user=user, used_at__isnull=True).count())
        return "recovery"
    return None


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user: Any, code: str) -> list[str]:
    if mfa_check(user=user, code=code) != "totp":
        raise InvalidInput("Enter a current code from your authenticator.", code="mfa_code_invalid",
                           detail={"code": ["Not valid."]})
    codes = _replace_recovery_codes(user)
    _announce(_home_org_id(user), f"mfa:{user.pk}", "recovery_codes_regenerated", name=user.get_username())
    return codes


@transaction.atomic
def mfa_reset(*, actor: Any, user: Any) -> None:
    """An administrator removes a person's second factor (lost phone); they enrol again at their next
    sign-in if MFA is required of them."""
    if actor is not None and actor.pk == user.pk:
        raise Forbidden("Ask another administrator to reset your own MFA.", code="mfa_self_reset")
    require_may_change_credentials(actor, "security:mfa:reset", user)
    sec = _security_for_update(user)
    was_enabled = sec.mfa_enabled
    sec.mfa_secret = sec.mfa_pending_secret = ""
    sec.mfa_confirmed_at, sec.mfa_last_step = None, 0
    sec.save()
    RecoveryCode.objects.filter(user=user).delete()
    _announce(_home_org_id(user), f"mfa:{user.pk}", "reset", name=user.get_username(), was_enabled=was_enabled)


@transaction.atomic
def mfa_set_exempt(*, actor: Any, user: Any, exempt: bool) -> None:
    """An administrator exempts a person from MFA (or ends the exemption); never themselves."""
    if actor is not None and actor.pk == user.pk:
        raise Forbidden("Ask another administrator to change your own MFA exemption.", code="mfa_self_exempt")
    require_may_change_credentials(actor, "security:mfa:reset", user)
    sec = _security_for_update(user)
    sec.mfa_exempt = bool(exempt)
    sec.save(update_fields=["mfa_exempt"])
    _announce(_home_org_id(user), f"mfa:{user.pk}", "exempted" if exempt else "exemption_removed",
              name=user.get_username())


# -- sessions ----------------------------------------------------------------------------------

def _session_store(key: str) -> SessionBase:
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key=key)


def session_record(*, user: Any, session_key: str, ip: str | None, user_agent: str, with_mfa: bool) -> UserSession:
    return UserSession.objects.create(user=user, session_key=session_key, ip=ip or "", user_agent=user_agent[:255],
                                      with_mfa=with_mfa)


def session_ended(*, session_key: str, reason: str) -> None:
    UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason)


@transaction.atomic
def session_revoke(*, actor: Any, session: UserSession) -> None:
    """Sign one session out: its owner, or an administrator of people who may write the owner."""
    require_may_change_credentials(actor, "organizations:user:write", session.user)
    if session.ended_at is None:
        _session_store(session.session_key).delete()
        session_ended(session_key=session.session_key, reason="revoked")
        _announce(_home_org_id(session.user), f"session:{session.pk}", "revoked",
                  name=session.user.get_username(), ip=session.ip)


@transaction.atomic
def sessions_revoke_all(*, actor: Any, user: Any, keep_session_key: str | None = None) -> int:
    """"Sign out everywhere": every open session of ``user`` but ``keep_session_key``."""
    require_may_change_credentials(actor, "organizations:user:write", user)
    return _end_sessions(user, keep_session_key)


def _end_sessions(user: Any, keep_session_key: str | None = None) -> int:
    rows = list(UserSession.objects.filter(user=user, ended_at__isnull=True).exclude(
        session_key=keep_session_key or ""))
    for row in rows:
        _session_store(row.session_key).delete()
    UserSession.objects.filter(pk__in=[r.pk for r in rows]).update(ended_at=timezone.now(), end_reason="revoked")
    _announce(_home_org_id(user), f"user:{user.pk}", "sessions_revoked", name=user.get_username(), count=len(rows))
    return len(rows)


# -- AccessKey pairs ---------------------------------------------------------------------------

def _new_access_key_id() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "UMAK" + "".join(secrets.choice(alphabet) for _ in range(20))


def _key_payload(key: AccessKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.id, "owner": str(key.user_id), "status": key.status,
            "description": key.description}


def _require_key_owner_or(actor: Any, key: AccessKey) -> None:
    """The owner, or whoever may change the owner's credentials with ``security:accesskey:write``."""
    require_may_change_credentials(actor, "security:accesskey:write", key.user)


def _active_count(user: Any) -> int:
    return AccessKey.objects.filter(user=user, status=AccessKey.Status.ACTIVE).count()


@transaction.atomic
def access_key_create(*, actor: Any, description: str = "") -> tuple[AccessKey, str]:
    """A new pair for the actor; at most two are active at a time. Returns the secret once."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotAuthenticated()
    if not isinstance(description, str) or len(description) > 200:
        raise InvalidInput("description must be at most 200 characters.", detail={"description": ["Too long."]})
    from apps.organizations.models import User

    # Two concurrent creations by one person must not both pass the limit.
    User.objects.select_for_update().filter(pk=actor.pk).first()
    if _active_count(actor) >= AccessKey.MAX_ACTIVE:
        raise Conflict(f"At most {AccessKey.MAX_ACTIVE} AccessKey pairs can be active; disable or delete one first.",
                       code="access_key_limit")
    secret = secrets.token_urlsafe(30)
    key = AccessKey.objects.create(id=_new_access_key_id(), user=actor, organization_id=_home_org_id(actor),
                                   secret_encrypted=crypto.encrypt(secret), description=description.strip())
    _announce(key.organization_id, key.topic, "created", **_key_payload(key))
    return key, secret


@transaction.atomic
def access_key_set_active(*, actor: Any, key: AccessKey, active: bool) -> AccessKey:
    _require_key_owner_or(actor, key)
    key = AccessKey.objects.select_for_update().get(pk=key.pk)
    wanted = AccessKey.Status.ACTIVE if active else AccessKey.Status.DISABLED
    if key.status == wanted:
        return key
    if active and _active_count(key.user) >= AccessKey.MAX_ACTIVE:
        raise Conflict(f"At most {AccessKey.MAX_ACTIVE} AccessKey pairs can be active.", code="access_key_limit")
    key.status = wanted
    key.save(update_fields=["status"])
    _announce(key.organization_id, key.topic, "enabled" if active else "disabled", **_key_payload(key))
    return key


@transaction.atomic
def access_key_rotate(*, actor: Any, key: AccessKey) -> tuple[AccessKey, str]:
    """Replace a pair: a new one is created and the old one disabled in the same step."""
    _require_key_owner_or(actor, key)
    if actor is None or actor.pk != key.user_id:
        raise Forbidden("Only the owner can rotate an AccessKey pair (the new secret is shown to them).",
                        code="access_key_not_owner")
    old = AccessKey.objects.select_for_update().get(pk=key.pk)
    if old.status != AccessKey.Status.ACTIVE:
        raise Refused("Only an active pair can be rotated.", code="access_key_disabled")
    old.status = AccessKey.Status.DISABLED
    old.save(update_fields=["status"])
    secret = secrets.token_urlsafe(30)
    new = AccessKey.objects.create(id=_new_access_key_id(), user=old.user, organization_id=old.organization_id,
                                   secret_encrypted=crypto.encrypt(secret), description=old.description)
    _announce(old.organization_id, old.topic, "rotated", **_key_payload(old), replaced_by=new.id)
    _announce(new.organization_id, new.topic, "created", **_key_payload(new), replaces=old.id)
    return new, secret


@transaction.atomic
def access_key_delete(*, actor: Any, key: AccessKey) -> None:
    _require_key_owner_or(actor, key)
    payload = _key_payload(key)
    AccessKey.objects.filter(pk=key.pk).delete()
    _announce(key.organization_id, key.topic, "deleted", **payload)


@transaction.atomic
def _disable_access_keys(user: Any) -> int:
    """Disable every active pair of ``user`` (their password was reset or they were disabled)."""
    keys = list(AccessKey.objects.select_for_update().filter(user=user, status=AccessKey.Status.ACTIVE))
    AccessKey.objects.filter(pk__in=[k.pk for k in keys]).update(status=AccessKey.Status.DISABLED)
    for key in keys:
        key.status = AccessKey.Status.DISABLED
        _announce(key.organization_id, key.topic, "disabled", **_key_payload(key))
    return len(keys)


def access_key_secret(key: AccessKey) -> str:
    return crypto.decrypt(key.secret_encrypted)


def nonce_use(*, key: AccessKey, nonce: str, keep_until: Any, now: Any = None) -> bool:
    """Record that ``key`` used ``nonce``, remembered until ``keep_until``; ``False`` when it already
    had (a replay). Insert-or-refuse is one statement guarded by the unique constraint. Expired
    nonces of the same key are removed on the way, so an active key's rows stay few."""
    now = now or timezone.now()
    UsedNonce.objects.filter(access_key=key, expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            UsedNonce.objects.create(access_key=key, nonce=nonce, expires_at=keep_until)
    except IntegrityError:
        return False
    return True


def nonces_purge(*, now: Any = None) -> int:
    """Remove every nonce whose request can no longer be accepted (the periodic clean-up)."""
    removed, _ = UsedNonce.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return removed


# -- display tokens ----------------------------------------------------------------------------

def display_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _clean_dashboards(dashboards: Any) -> list[str]:
    if not isinstance(dashboards, list) or not dashboards or len(dashboards) > 50:
        raise InvalidInput("Choose 1 to 50 dashboards.", detail={"dashboards": ["A list of 1 to 50 dashboard ids."]})
    bad = [d for d in dashboards if not isinstance(d, str) or not DASHBOARD_ID_RE.match(d)]
    if bad:
        raise InvalidInput("Dashboard ids are letters, digits, '.', '_' and '-', starting with a letter or digit.",
                           detail={"dashboards": ["Invalid."]})
    return sorted(set(dashboards))


def _clean_networks(networks: Any) -> list[str]:
    if networks in (None, ""):
        return []
    if isinstance(networks, str):
        networks = [n for n in re.split(r"[\s,]+", networks) if n]
    if not isinstance(networks, list) or len(networks) > 20:
        raise InvalidInput("allowed_networks is a list of at most 20 networks.",
                           detail={"allowed_networks": ["Invalid."]})
    cleaned = []
    for n in networks:
        try:
            cleaned.append(str(ipaddress.ip_network(str(n), strict=False)))
        except ValueError:
            raise InvalidInput(f"{str(n)[:50]!r} is not a network (e.g. 10.0.0.0/24).",
                               detail={"allowed_networks": [f"{str(n)[:50]} is not a network."]}) from None
    return cleaned


@transaction.atomic
def display_token_create(*, actor: Any, organization: Any, name: str, dashboards: Any,
                         allowed_networks: Any = None) -> tuple[DisplayToken, str]:
    """A read-only token for a wall screen of ``organization``, opening only ``dashboards``.
    Returns the token once; only its hash is kept."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 128:
        raise InvalidInput("name is required (at most 128 characters).", detail={"name": ["Required."]})
    dashboards = _clean_dashboards(dashboards)
    networks = _clean_networks(allowed_networks)
    require(actor, "organizations:displaytoken:write", DisplayToken(organization=organization))
    raw = DISPLAY_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = DisplayToken.objects.create(organization=organization, name=name.strip(),
                                        token_hash=display_token_hash(raw), prefix=raw[:12], dashboards=dashboards,
                                        allowed_networks=networks,
                                        created_by=actor if getattr(actor, "pk", None) else None)
    _announce(organization.pk, token.topic, "created", id=token.id, name=token.name, dashboards=dashboards,
              allowed_networks=networks)
    return token, raw


@transaction.atomic
def display_token_revoke(*, actor: Any, token: DisplayToken) -> DisplayToken:
    require(actor, "organizations:displaytoken:write", token)
    token = DisplayToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _announce(token.organization_id, token.topic, "revoked", id=token.id, name=token.name)
    return token


class DisplayTokenRefused(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(message)


def display_token_check(*, raw: str | None = None, token_id: Any = None, ip: str | None) -> DisplayToken:
    """The token that may open screens from ``ip`` now, found by its value or (for an existing screen
    session) its id; ``DisplayTokenRefused`` otherwise."""
    token = None
    if raw is not None:
        if isinstance(raw, str) and raw.startswith(DISPLAY_TOKEN_PREFIX) and len(raw) < 100:
            token = DisplayToken.objects.filter(token_hash=display_token_hash(raw)).first()
    elif token_id:
        try:
            token = DisplayToken.objects.filter(pk=token_id).first()
        except (ValueError, TypeError):
            token = None
    if token is None:
        raise DisplayTokenRefused("display_token_invalid", "This display token is not valid.")
    if token.revoked_at is not None:
        raise DisplayTokenRefused("display_token_revoked", "This display token was revoked.")
    if token.allowed_networks:
        try:
            address = ipaddress.ip_address(ip or "")
        except ValueError:
            address = None
        if address is None or not any(address in ipaddress.ip_network(n) for n in token.allowed_networks):
            raise DisplayTokenRefused("display_token_network", "This display token cannot be used from this address.")
    return token


def display_token_signin(*, raw: str, ip: str | None) -> DisplayToken:
    """A wall screen opens with its display token: the token (``display_token_check``), and the
    attempt in the audit log either way; ``DisplayTokenRefused`` when it may not open."""
    try:
        token = display_token_check(raw=raw, ip=ip)
    except DisplayTokenRefused as exc:
        audit.append(action="display_token.signin_failed", result=AuditEntry.Result.FAILURE,
                     actor_name="wall screen", target_type="display_token", detail={"reason": exc.code})
        raise
    audit.append(action="display_token.signed_in", organization_id=token.organization_id,
                 target_type="display_token", target_id=token.pk, target_label=token.name)
    return token


def display_token_touch(token: DisplayToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=5):
        DisplayToken.objects.filter(pk=token.pk).update(last_used_at=now)


# -- organization security policy --------------------------------------------------------------

POLICY_LIMITS = {
    "password_min_length": (6, 128), "password_min_classes": (1, 4), "lockout_threshold": (1, 100),
    "lockout_minutes": (1, 1440),
}


def _policy_payload(p: SecurityPolicy) -> dict[str, Any]:
    return {k: getattr(p, k) for k in (*POLICY_LIMITS, "mfa_required", "mfa_required_roles")}


def security_policy_errors(changes: dict[str, Any]) -> dict[str, list[str]]:
    """What is wrong with each of ``changes`` to a security policy (nothing: ``{}``)."""
    from apps.rbac.models import Role

    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        if name in POLICY_LIMITS:
            low, high = POLICY_LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = [f"A whole number from {low} to {high}."]
        elif name == "mfa_required":
            if not isinstance(value, bool):
                errors[name] = ["true or false."]
        elif name == "mfa_required_roles":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[name] = ["A list of role keys."]
            else:
                unknown = sorted(set(value) - set(Role.objects.filter(key__in=value).values_list("key", flat=True)))
                if unknown:
                    errors[name] = [f"Unknown roles: {', '.join(unknown[:10])}."]
        else:
            errors[name] = ["Unknown setting."]
    return errors


@transaction.atomic
def security_policy_set(*, actor: Any, organization: Any, **changes: Any) -> SecurityPolicy:
    """Create or change the security policy of ``organization`` (it applies to its descendants too)."""
    require(actor, "security:policy:write", SecurityPolicy(organization=organization))
    errors = security_policy_errors(changes)
    if errors:
        raise InvalidInput("The policy is not valid; see detail.", detail=errors)
    try:
        policy, _ = SecurityPolicy.objects.select_for_update().get_or_create(organization=organization)
    except IntegrityError:
        policy = SecurityPolicy.objects.select_for_update().get(organization=organization)
    before = _policy_payload(policy)
    for name, value in changes.items():
        setattr(policy, name, sorted(set(value)) if name == "mfa_required_roles" else value)
    policy.save()
    _announce(organization.pk, policy.topic, "updated", id=policy.id, name=organization.name, before=before,
              after=_policy_payload(policy))
    return policy


SIGNIN_HOOKS = SignInHooks(end_sessions=_end_sessions, disable_access_keys=_disable_access_keys,
                           refuse_when_locked=_refuse_when_locked, count_wrong_password=_count_wrong_password)
