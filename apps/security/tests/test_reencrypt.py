"""Key rotation: ``manage.py reencrypt_secrets`` moves every registered secret to the newest key."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.security import crypto, services
from apps.security.models import AccessKey, AccountSecurity
from apps.security.tests.factories import person
from tests import factories as f

pytestmark = pytest.mark.django_db


def _stored():
    keys = {k.pk: k.secret_encrypted for k in AccessKey.objects.all()}
    mfa = {s.user_id: (s.mfa_secret, s.mfa_pending_secret) for s in AccountSecurity.objects.all()}
    return keys, mfa


def test_a_key_rotation_reencrypts_every_stored_secret_and_they_still_decrypt(monkeypatch, capsys):
    old_key, new_key = crypto.generate_key(), crypto.generate_key()
    monkeypatch.setenv(crypto.ENV_VAR, old_key)
    org = f.org("Rotation")
    people = [person(org, username=f"rot-{i}") for i in range(3)]
    secrets = {}
    for someone in people:
        key, secret = services.access_key_create(actor=someone)
        secrets[key.pk] = secret
        services.mfa_enrollment_start(user=someone)
    before_keys, before_mfa = _stored()

    monkeypatch.setenv(crypto.ENV_VAR, f"{new_key},{old_key}")
    call_command("reencrypt_secrets", batch_size=2)
    assert "re-encrypted 6" in capsys.readouterr().out
    after_keys, after_mfa = _stored()
    assert all(after_keys[pk] != before_keys[pk] for pk in before_keys)
    assert all(after_mfa[u][1] != before_mfa[u][1] for u in before_mfa)

    call_command("reencrypt_secrets")
    assert "re-encrypted 0" in capsys.readouterr().out
    assert _stored() == (after_keys, after_mfa)

    monkeypatch.setenv(crypto.ENV_VAR, new_key)
    for key in AccessKey.objects.all():
        assert services.access_key_secret(key) == secrets[key.pk]
    for someone in people:
        assert services.mfa_pending_secret(user=someone)


def test_a_secret_no_key_can_read_is_reported_and_the_command_fails(monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.setenv(crypto.ENV_VAR, crypto.generate_key())
    services.access_key_create(actor=person(f.org("Lost"), username="lost"))
    monkeypatch.setenv(crypto.ENV_VAR, crypto.generate_key())
    with pytest.raises(CommandError, match="1 stored secret"):
        call_command("reencrypt_secrets")


def test_the_security_secrets_are_registered():
    fields = {(model._meta.label, field) for model, field in crypto.encrypted_fields()}
    assert {("security.AccessKey", "secret_encrypted"), ("security.AccountSecurity", "mfa_secret"),
            ("security.AccountSecurity", "mfa_pending_secret")} <= fields
