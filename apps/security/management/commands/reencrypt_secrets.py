from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.security import crypto


class Command(BaseCommand):
    help = ("Re-encrypt every stored secret (fields registered with crypto.register_encrypted_field) with the "
            "newest key of UNIMANAGER_ENCRYPTION_KEYS. Values already under the newest key are left alone, so "
            "running it again is harmless; run it after putting a new key first, before dropping the old one.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int = 500, **options):
        batch_size = max(1, batch_size)
        changed = unreadable = 0
        for model, field in crypto.encrypted_fields():
            rows = model._base_manager.exclude(**{field: ""}).order_by("pk")
            last = None
            while True:
                page = rows.filter(pk__gt=last) if last is not None else rows
                batch = list(page.values_list("pk", field)[:batch_size])
                if not batch:
                    break
                last = batch[-1][0]
                with transaction.atomic():
                    for pk, token in batch:
                        if crypto.is_current(token):
                            continue
                        try:
                            fresh = crypto.reencrypt(token)
                        except crypto.DecryptionError:
                            unreadable += 1
                            self.stderr.write(f"{model._meta.label}.{field} of {pk}: no configured key reads it")
                            continue
                        # Only if unchanged since it was read: a concurrent write keeps its new value.
                        changed += model._base_manager.filter(pk=pk, **{field: token}).update(**{field: fresh})
        self.stdout.write(f"re-encrypted {changed} stored secret(s) with the newest key")
        if unreadable:
            raise CommandError(f"{unreadable} stored secret(s) cannot be decrypted with the configured keys")
