from django.conf import settings
from django.core.management.base import BaseCommand

from apps.security import audit


class Command(BaseCommand):
    help = "Remove audit entries older than UNIMANAGER_AUDIT_RETENTION_DAYS (the chain stays verifiable)."

    def handle(self, *args, **options):
        removed = audit.purge_expired()
        self.stdout.write(f"removed {removed} entries older than {settings.AUDIT_RETENTION_DAYS} days")
