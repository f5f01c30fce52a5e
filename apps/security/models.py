"""Sign-in protection, MFA, AccessKey pairs, display tokens, sessions and the audit log.

The audit log is append-only: ``AuditEntry`` rows are only ever inserted (``audit.append``), each
carrying the hash of the previous one, so a row changed or removed behind the application's back
breaks the chain (``manage.py audit_verify``; the chain is keyed, see ``audit``). The model refuses
updates and deletes; on PostgreSQL a trigger refuses them as well.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.core.models import TenantModel, TenantQuerySet


class SecurityPolicy(TenantModel):
    """Password, lockout and MFA rules of one organization (and, where it sets none, its descendants)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    password_min_length = models.PositiveSmallIntegerField(default=10)
    # How many of lower case, upper case, digits and symbols a password must mix.
    password_min_classes = models.PositiveSmallIntegerField(default=2)
    lockout_threshold = models.PositiveSmallIntegerField(default=5)
    lockout_minutes = models.PositiveSmallIntegerField(default=15)
    mfa_required = models.BooleanField(default=False)
    # Role keys whose holders must use MFA here (the separated duties always must).
    mfa_required_roles = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="securitypolicy_one_per_org")]

    def __str__(self) -> str:
        return f"security policy of {self.organization_id}"

    @property
    def topic(self) -> str:
        return f"security_policy:{self.id}"


class AccountSecurity(models.Model):
    """A person's second factor: the TOTP secret (encrypted) and whether they are exempt."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_security")
    mfa_secret = models.TextField(blank=True)
    mfa_pending_secret = models.TextField(blank=True)
    mfa_confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last time step used: the same code is never accepted twice.
    mfa_last_step = models.BigIntegerField(default=0)
    mfa_exempt = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"account security of {self.user_id}"

    @property
    def mfa_enabled(self) -> bool:
        return bool(self.mfa_secret and self.mfa_confirmed_at)


class RecoveryCode(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"], name="recoverycode_user_hash")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class SignInLock(models.Model):
    """Failed sign-ins of one account name or one client address; locked while ``locked_until`` is ahead."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Account"
        ADDRESS = "ip", "Client address"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-last_failure_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="signinlock_unique_key")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.failures} failures"


class UserSession(models.Model):
    """A signed-in browser session, listed to its owner and revocable ("sign out everywhere")."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    with_mfa = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="usersession_user_open")]

    def __str__(self) -> str:
        return f"session of {self.user_id} from {self.ip}"


class AccessKey(models.Model):
    """An AccessKey pair: the id is public, the secret is shown once and stored encrypted.

    The key acts with exactly its owner's permissions. It belongs to the owner's home organization
    so that administrators there can see and disable it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    tenant_field = "organization"
    MAX_ACTIVE = 2

    id = models.CharField(primary_key=True, max_length=32, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    organization = models.ForeignKey("organizations.Organization", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    secret_encrypted = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["user", "status"], name="accesskey_user_status"),
                   models.Index(fields=["organization", "-created_at"], name="accesskey_org_created")]

    def __str__(self) -> str:
        return self.id

    @property
    def topic(self) -> str:
        return f"access_key:{self.id}"


class UsedNonce(models.Model):
    """A nonce a signed request used, kept until that request could no longer be accepted anyway.

    The unique constraint makes "use this nonce" one atomic insert in every database mode, so two
    copies of one request racing each other cannot both pass."""

    id = models.BigAutoField(primary_key=True)
    access_key = models.ForeignKey(AccessKey, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=128)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["access_key", "nonce"], name="usednonce_unique_key_nonce")]

    def __str__(self) -> str:
        return f"nonce of {self.access_key_id}"


class DisplayToken(TenantModel):
    """A read-only credential of a wall screen: it opens only the listed dashboards, optionally only
    from the listed networks, until revoked. Only a hash of the token is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=128)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    dashboards = models.JSONField(default=list)
    allowed_networks = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="displaytoken_org_created")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def topic(self) -> str:
        return f"display_token:{self.id}"


class AppendOnlyQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        raise PermissionError("the audit log is append-only")

    def delete(self):
        raise PermissionError("the audit log is append-only")


class AuditEntry(models.Model):
    """One audited fact: a sign-in, a change made through a service, or a refused request."""

    class Result(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    tenant_field = "organization"

    # Gap-free and assigned under the chain lock: a missing number is a removed row.
    id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    # Plain values, not foreign keys: deleting a person or an organization must not touch the log.
    organization_id = models.UUIDField(null=True, blank=True)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_name = models.CharField(max_length=150, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.SUCCESS, db_index=True)
    source_ip = models.CharField(max_length=45, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["organization_id", "-id"], name="auditentry_org_id"),
            models.Index(fields=["target_type", "target_id"], name="auditentry_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.action} by {self.actor_name or 'system'}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the audit log is append-only")


class AuditChainHead(models.Model):
    """The last entry of the chain, locked by every append so entries are chained one at a time.

    ``anchor_*`` is where verification starts: the last entry removed by a retention purge."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    anchor_id = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default="0" * 64)
    # HMAC of the anchor under the audit key, written by the retention purge: an anchor moved by
    # anyone else (to hide removed entries) does not verify.
    anchor_mac = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"audit chain at #{self.last_id}"
