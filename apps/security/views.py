"""Pages of the security center: sign-in (password, then MFA), enrolment, "My security", the audit
log, lockouts, display tokens, organization security policies, the security panel of a person's
page, and wall screens opened with a display token."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError
from apps.core.pages import csv_stream, error_fields, searched
from apps.core.pagination import Page, page_of
from apps.core.scoping import authorize
from apps.core.selectors import organization_list
from apps.organizations import selectors as people
from apps.organizations.models import Organization
from apps.organizations.services import may_change_credentials
from apps.rbac.selectors import role_list
from apps.security import qr, selectors, services, totp
from apps.security.filters import AuditEntryFilter
from apps.security.models import AccessKey, AuditEntry, RecoveryCode, SecurityPolicy, SignInLock
from apps.security.policy import account_security, mfa_required

DISPLAY_TOKEN_WRITE = "organizations:displaytoken:write"
PENDING = "security_mfa_pending"
PENDING_SECONDS = 300
SCREEN_TOKEN = "security_display_token"


def _lock_message(lock: SignInLock) -> str:
    minutes = max(1, int((lock.locked_until - timezone.now()).total_seconds() // 60) + 1)
    who = "this account" if lock.kind == SignInLock.Kind.ACCOUNT else "your address"
    return (f"Too many failed sign-ins: {who} is locked for about {minutes} more minute"
            f"{'s' if minutes != 1 else ''} (until {lock.locked_until:%H:%M} UTC). "
            "An administrator can unlock it sooner.")


class SignInForm(AuthenticationForm):
    """The password step; a locked account name or client address is refused before the password is
    even checked, so guessing on during a lockout learns nothing."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        self.lock = services.lock_state(username=username, ip=getattr(self.request, "client_ip", None))
        if self.lock is not None:
            raise ValidationError(_lock_message(self.lock), code="locked")
        return super().clean()


def _next_url(request: HttpRequest, value: Any) -> str:
    value = value if isinstance(value, str) else ""
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _complete(request: HttpRequest, user: Any, *, with_mfa: bool, method: str = "password") -> None:
    login(request, user)
    services.signin_completed(user=user, session_key=request.session.session_key, ip=request.client_ip,
                              user_agent=request.headers.get("User-Agent", ""), with_mfa=with_mfa, method=method)


def _failed(request: HttpRequest, username: str, reason: str, user: Any = None) -> SignInLock | None:
    return services.signin_failed(username=username, ip=request.client_ip, reason=reason, user=user)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def signin(request: HttpRequest) -> HttpResponse:
    redirect_to = _next_url(request, request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME))
    if request.user.is_authenticated and request.method != "POST":
        return redirect(redirect_to)
    form = SignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        username = str(request.POST.get("username", ""))[:150]
        if form.is_valid():
            user = form.get_user()
            if mfa_required(user):
                request.session.cycle_key()
                request.session[PENDING] = {"user": str(user.pk), "backend": user.backend, "at": time.time(),
                                            "next": redirect_to}
                return redirect("login-mfa")
            _complete(request, user, with_mfa=False)
            return redirect(redirect_to)
        if getattr(form, "lock", None) is not None:
            services.signin_refused(username=username)
        elif username:
            started = _failed(request, username, "password")
            if started is not None:
                form.errors.clear()
                form.add_error(None, ValidationError(_lock_message(started), code="locked"))
    return render(request, "auth/signin.html", {"form": form, "next": redirect_to})


class CodeForm(forms.Form):
    code = forms.CharField(max_length=64, strip=True)


def _pending_user(request: HttpRequest):
    from apps.organizations.models import User

    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None, None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is not None:
        user.backend = pending.get("backend")
    return user, pending


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def signin_mfa(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator or a recovery code; people who must use MFA
    and have not enrolled enrol here (QR code), then get their recovery codes once."""
    user, pending = _pending_user(request)
    if user is None:
        messages.error(request, "Your sign-in took too long; start again.")
        return redirect("login")
    enrolled = account_security(user).mfa_enabled
    form = CodeForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        lock = services.lock_state(username=user.get_username(), ip=request.client_ip)
        code = form.cleaned_data["code"]
        if lock is not None:
            error = _lock_message(lock)
            services.signin_refused(username=user.get_username(), user=user, step="mfa")
        elif enrolled:
            method = services.mfa_check(user=user, code=code)
            if method:
                request.session.pop(PENDING, None)
                _complete(request, user, with_mfa=True, method=f"password+{method}")
                return redirect(pending["next"])
            started = _failed(request, user.get_username(), "mfa_code", user)
            error = _lock_message(started) if started else "That code is not valid. Check your device's time, or " \
                                                            "use a recovery code."
        else:
            try:
                codes = services.mfa_enrollment_confirm(user=user, code=code)
            except ApplicationError as exc:
                started = _failed(request, user.get_username(), "mfa_enrolment_code", user)
                error = _lock_message(started) if started else exc.message
            else:
                request.session.pop(PENDING, None)
                _complete(request, user, with_mfa=True, method="password+totp-enrolment")
                return render(request, "security/recovery_codes.html", {"codes": codes, "next": pending["next"]})
    elif request.method == "POST":
        error = "Enter the code."
    context: dict[str, Any] = {"form": form, "error": error, "enrolled": enrolled, "username": user.get_username()}
    if not enrolled:
        secret = services.mfa_pending_secret(user=user)
        if secret is None:
            secret, _uri = services.mfa_enrollment_start(user=user)
        uri = totp.provisioning_uri(secret, account=user.get_username(), issuer=settings.MFA_ISSUER)
        context.update(secret=secret, qr_svg=qr.svg(uri))
    return render(request, "security/signin_mfa.html", context, status=400 if error else 200)


# -- My security -------------------------------------------------------------------------------

@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    sec = account_security(user)
    context = {
        "mfa_enabled": sec.mfa_enabled, "mfa_required": mfa_required(user), "mfa_exempt": sec.mfa_exempt,
        "recovery_left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
        "sessions": selectors.session_list(user=user)[:50], "current_session": request.session.session_key,
        "keys": selectors.access_key_list(actor=user).filter(user=user)[:10],
        "new_secret": request.session.pop("security_new_secret", None),
        "new_codes": request.session.pop("security_new_codes", None),
    }
    if not sec.mfa_enabled:
        secret = services.mfa_pending_secret(user=user)
        if secret is None:
            secret, _ = services.mfa_enrollment_start(user=user)
        context.update(enroll_secret=secret, enroll_qr=qr.svg(
            totp.provisioning_uri(secret, account=user.get_username(), issuer=settings.MFA_ISSUER)))
    return render(request, "security/account.html", context)


def _run(request: HttpRequest, fn, *args, success: str = "", **kwargs) -> Any:
    try:
        result = fn(*args, **kwargs)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return None
    if success:
        messages.success(request, success)
    return result if result is not None else True


@login_required
@require_POST
def account_action(request: HttpRequest, what: str) -> HttpResponse:
    user = request.user
    if what == "mfa-confirm":
        codes = _run(request, services.mfa_enrollment_confirm, user=user, code=request.POST.get("code", ""),
                     success="MFA is on. Keep your recovery codes somewhere safe.")
        if isinstance(codes, list):
            request.session["security_new_codes"] = codes
    elif what == "recovery-codes":
        codes = _run(request, services.mfa_recovery_codes_regenerate, user=user, code=request.POST.get("code", ""),
                     success="New recovery codes; the old ones no longer work.")
        if isinstance(codes, list):
            request.session["security_new_codes"] = codes
    elif what == "sign-out-everywhere":
        _run(request, services.sessions_revoke_all, actor=user, user=user,
             keep_session_key=request.session.session_key, success="Every other session is signed out.")
    elif what == "key-create":
        made = _run(request, services.access_key_create, actor=user, description=request.POST.get("description", ""))
        if isinstance(made, tuple):
            request.session["security_new_secret"] = {"id": made[0].id, "secret": made[1]}
    elif what in {"key-disable", "key-enable", "key-delete", "key-rotate", "session-revoke"}:
        if what == "session-revoke":
            session = selectors.session_list(user=user).filter(pk=_uuid(request.POST.get("id"))).first()
            if session is None:
                return HttpResponseNotFound()
            _run(request, services.session_revoke, actor=user, session=session, success="Session signed out.")
            return redirect("security:account")
        key = selectors.access_key_list(actor=user).filter(user=user, pk=str(request.POST.get("id", ""))[:32]).first()
        if key is None:
            return HttpResponseNotFound()
        if what == "key-rotate":
            made = _run(request, services.access_key_rotate, actor=user, key=key)
            if isinstance(made, tuple):
                request.session["security_new_secret"] = {"id": made[0].id, "secret": made[1]}
        elif what == "key-delete":
            _run(request, services.access_key_delete, actor=user, key=key, success="AccessKey pair deleted.")
        else:
            _run(request, services.access_key_set_active, actor=user, key=key, active=what == "key-enable")
    else:
        return HttpResponseNotFound()
    return redirect("security:account")


def _uuid(value: Any) -> Any:
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# -- audit log ---------------------------------------------------------------------------------

@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    qs = selectors.audit_entry_list(actor=request.user)
    filtered = AuditEntryFilter(request.GET, queryset=qs)
    entries = list(filtered.qs.order_by("-id")[:200]) if filtered.is_valid() else []
    return render(request, "security/audit.html", {
        "entries": entries, "filter": filtered, "query": request.GET.urlencode(),
        "results": AuditEntry.Result.choices,
        "can_export": authorize(request.user, "audit:log:export", None) or selectors.audit_entry_list(
            actor=request.user, action=selectors.AUDIT_EXPORT).exists(),
    })


@login_required
def audit_export(request: HttpRequest) -> HttpResponse:
    qs = selectors.audit_entry_list(actor=request.user, action=selectors.AUDIT_EXPORT)
    filtered = AuditEntryFilter(request.GET, queryset=qs)
    if not filtered.is_valid():
        return HttpResponse("Invalid filter.", status=400)
    return csv_stream(selectors.audit_csv_rows(filtered.qs.order_by("id").iterator(chunk_size=2000)), "audit-log.csv")


# -- lockouts and MFA administration -----------------------------------------------------------

@login_required
def lockouts(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        lock = selectors.lock_list(actor=request.user).filter(pk=_uuid(request.POST.get("id"))).first()
        if lock is None:
            return HttpResponseNotFound()
        _run(request, services.lock_release, actor=request.user, lock=lock, success=f"{lock.key} is unlocked.")
        return redirect("security:lockouts")
    locks = selectors.lock_list(actor=request.user).filter(locked_until__gt=timezone.now())[:500]
    return render(request, "security/lockouts.html", {"locks": locks})


# -- display tokens ----------------------------------------------------------------------------

@login_required
def display_tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if request.POST.get("revoke"):
            token = selectors.display_token_list(actor=request.user).filter(pk=_uuid(request.POST["revoke"])).first()
            if token is None:
                return HttpResponseNotFound()
            _run(request, services.display_token_revoke, actor=request.user, token=token, success="Token revoked.")
            return redirect("security:display-tokens")
        org = organization_list(actor=request.user, action="organizations:organization:read").filter(
            pk=_uuid(request.POST.get("organization"))).first()
        if org is None:
            messages.error(request, "Choose an organization.")
            return redirect("security:display-tokens")
        dashboards = [d for d in request.POST.get("dashboards", "").replace(",", " ").split() if d]
        made = _run(request, services.display_token_create, actor=request.user, organization=org,
                    name=request.POST.get("name", ""), dashboards=dashboards,
                    allowed_networks=request.POST.get("allowed_networks", ""))
        if isinstance(made, tuple):
            request.session["security_new_token"] = made[1]
        return redirect("security:display-tokens")
    return render(request, "security/display_tokens.html", {
        "tokens": selectors.display_token_list(actor=request.user)[:200],
        "organizations": _token_organizations(request),
        "new_token": request.session.pop("security_new_token", None),
    })


def _token_organizations(request: HttpRequest) -> Page:
    """A page of the organizations the user may make display tokens for, searched by ``?q=``."""
    orgs = organization_list(actor=request.user, action=DISPLAY_TOKEN_WRITE)
    q = searched(request)
    if q:
        orgs = orgs.filter(name__icontains=q)
    page = page_of(orgs, request, ("path", "id"))
    return replace(page, rows=[(o.pk, o.name) for o in page.rows])


@login_required
def display_token_organizations(request: HttpRequest) -> HttpResponse:
    """The options of the new token's organization picker, as the user types."""
    return render(request, "partials/picker_options.html", {"options": _token_organizations(request)})


# -- wall screens ------------------------------------------------------------------------------

def screen_token(request: HttpRequest):
    """The display token this screen session was opened with, still valid from this address."""
    token_id = request.session.get(SCREEN_TOKEN)
    if not token_id:
        return None
    try:
        token = services.display_token_check(token_id=token_id, ip=request.client_ip)
    except services.DisplayTokenRefused:
        request.session.pop(SCREEN_TOKEN, None)
        return None
    request.display_token = token
    services.display_token_touch(token)
    return token


@csrf_protect
@never_cache
def screen_signin(request: HttpRequest) -> HttpResponse:
    """A wall screen opens with its display token (never with a person's session)."""
    error = ""
    raw = request.POST.get("token") if request.method == "POST" else None
    if raw is not None:
        try:
            token = services.display_token_signin(raw=str(raw).strip(), ip=request.client_ip)
        except services.DisplayTokenRefused as exc:
            error = exc.message
        else:
            request.session.flush()
            request.session[SCREEN_TOKEN] = str(token.pk)
            request.display_token = token
            return redirect("wallscreens:home")
    return render(request, "security/screen_signin.html", {"error": error}, status=400 if error else 200)


@require_POST
@csrf_protect
def screen_signout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("wallscreens:signin")


# -- organization security policies ------------------------------------------------------------

POLICY_READ = "security:policy:read"
POLICY_WRITE = "security:policy:write"
POLICY_NUMBERS = {
    "password_min_length": "Minimum password length", "password_min_classes": "Character classes to mix",
    "lockout_threshold": "Failed sign-ins before a lock", "lockout_minutes": "Lock duration (minutes)",
}


def _policy_org(request: HttpRequest, pk: Any) -> Organization:
    """The organization whose policy the user may see; missing and not visible are the same 404."""
    return people.organization_get(actor=request.user, organization_id=pk, action=POLICY_READ)


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    visible = people.organization_list(actor=request.user, action=POLICY_READ)
    q = searched(request)
    page = page_of(visible.filter(name__icontains=q) if q else visible, request, ("path", "id"))
    orgs = page.rows
    # A policy applies down the tree: each row's own policy and those of its ancestors the user sees.
    ancestors = visible.filter(pk__in={a for org in orgs for a in org.ancestor_ids})
    policies = {str(p.organization_id): p for p in SecurityPolicy.objects.filter(organization__in=ancestors)}
    for org in orgs:
        org.policy = policies.get(str(org.pk))
        org.inherits = not org.policy and any(str(a) in policies for a in org.ancestor_ids)
    return render(request, "security/policies.html", {"organizations": orgs, "page": page, "q": q})


def _posted_policy(request: HttpRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """The policy fields of the form, and what is wrong with each: not a whole number, or refused by
    the service's own checks (asked here so that a form refused for one field shows every error)."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in POLICY_NUMBERS:
        value = str(request.POST.get(name, "")).strip()
        try:
            changes[name] = int(value)
        except ValueError:
            errors[name] = "A whole number." if value else "Required."
    errors.update({name: " ".join(why) for name, why in services.security_policy_errors(changes).items()})
    mode = request.POST.get("mfa_mode", "none")
    if mode not in {"none", "everyone", "roles"}:
        errors["mfa_required"] = "Choose who must use MFA."
    changes["mfa_required"] = mode == "everyone"
    roles = sorted({str(r)[:64] for r in request.POST.getlist("mfa_required_roles") if r})
    if mode == "roles" and not roles:
        errors["mfa_required_roles"] = "Choose at least one role, or another option."
    changes["mfa_required_roles"] = roles if mode == "roles" else []
    return changes, errors


@login_required
def policy_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    org = _policy_org(request, pk)
    can_write = authorize(request.user, POLICY_WRITE, SecurityPolicy(organization=org))
    policy = SecurityPolicy.objects.filter(organization=org).first()
    values: dict[str, Any] = {name: getattr(policy or SecurityPolicy(), name) for name in POLICY_NUMBERS}
    roles_set = list(policy.mfa_required_roles) if policy else []
    mode = "everyone" if policy and policy.mfa_required else "roles" if roles_set else "none"
    errors: dict[str, str] = {}
    error = ""
    status = 200
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied
        changes, errors = _posted_policy(request)
        if not errors:
            try:
                services.security_policy_set(actor=request.user, organization=org, **changes)
            except ApplicationError as exc:
                errors, error, status = error_fields(exc), exc.message, exc.status
            else:
                messages.success(request, f"The security policy of {org.name} is saved.")
                return redirect("security:policy", org.pk)
        else:
            status = 400
        if errors:
            error = "Nothing was saved: correct the fields below."
        values.update({k: request.POST.get(k, "") for k in POLICY_NUMBERS})
        roles_set = changes["mfa_required_roles"] or request.POST.getlist("mfa_required_roles")
        mode = request.POST.get("mfa_mode", "none")
    roles = list(role_list(actor=request.user).order_by("-is_predefined", "name").values_list("key", "name"))
    known = {k for k, _ in roles}
    roles += [(k, k) for k in roles_set if k not in known]
    ancestors = list(selectors.security_policy_list(actor=request.user).filter(
        organization_id__in=org.ancestor_ids).exclude(organization=org).order_by("organization__path"))
    return render(request, "security/policy.html", {
        "org": org, "policy": policy, "can_write": can_write, "values": values, "mode": mode,
        "roles": roles, "roles_set": set(roles_set), "errors": errors, "error": error, "ancestors": ancestors,
        "number_fields": [(name, label, values[name], errors.get(name)) for name, label in POLICY_NUMBERS.items()],
    }, status=status)


# -- the security panel of a person's page ---------------------------------------------------------

PANEL_ACTIONS = {"mfa-reset", "mfa-exempt", "mfa-unexempt", "sign-out-everywhere"}


def _panel_person(request: HttpRequest, pk: Any) -> Any:
    return people.user_get(actor=request.user, user_id=pk)


def _person_panel(request: HttpRequest, person: Any, *, error: str = "", done: str = "",
                  status: int = 200) -> HttpResponse:
    actor = request.user
    is_self = actor.pk == person.pk
    # The buttons follow the service's one rule for changing how someone else signs in.
    can_mfa = not is_self and may_change_credentials(actor, person, "security:mfa:reset")
    can_sessions = not is_self and may_change_credentials(actor, person, "organizations:user:write")
    if not (is_self or can_mfa or can_sessions or error):
        # People who may not act on this person's sign-in see no security card at all.
        return HttpResponse("")
    sec = account_security(person)
    return render(request, "security/_person_panel.html", {
        "person": person, "is_self": is_self, "can_mfa": can_mfa, "can_sessions": can_sessions,
        "mfa_enabled": sec.mfa_enabled, "mfa_required": mfa_required(person), "mfa_exempt": sec.mfa_exempt,
        "mfa_since": sec.mfa_confirmed_at,
        "recovery_left": RecoveryCode.objects.filter(user=person, used_at__isnull=True).count(),
        "sessions": selectors.session_list(user=person).count(),
        "keys": AccessKey.objects.filter(user=person).count(),
        "active_keys": AccessKey.objects.filter(user=person, status=AccessKey.Status.ACTIVE).count(),
        "error": error, "done": done,
    }, status=status)


@login_required
def person_panel(request: HttpRequest, pk: Any) -> HttpResponse:
    """MFA state, sessions and AccessKey pairs of one person, with the administrator's actions."""
    return _person_panel(request, _panel_person(request, pk))


@login_required
@require_POST
def person_panel_action(request: HttpRequest, pk: Any, what: str) -> HttpResponse:
    if what not in PANEL_ACTIONS:
        raise Http404
    person = _panel_person(request, pk)
    try:
        if what == "mfa-reset":
            services.mfa_reset(actor=request.user, user=person)
            done = f"MFA of {person.username} is reset; they enrol again at their next sign-in if it is required."
        elif what in {"mfa-exempt", "mfa-unexempt"}:
            exempt = what == "mfa-exempt"
            services.mfa_set_exempt(actor=request.user, user=person, exempt=exempt)
            done = f"{person.username} is {'exempt from' if exempt else 'no longer exempt from'} MFA."
        else:
            count = services.sessions_revoke_all(actor=request.user, user=person)
            done = f"{count} session{'s' if count != 1 else ''} of {person.username} signed out."
    except ApplicationError as exc:
        return _person_panel(request, person, error=exc.message, status=exc.status)
    return _person_panel(request, person, done=done)
