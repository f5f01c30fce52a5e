from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core.demo import seeders


class Command(BaseCommand):
    help = "Load the demo data of every app (idempotent: existing data is kept)."

    def handle(self, *args, **options):
        for seeder in seeders():
            with transaction.atomic():
                seeder.run()
            self.stdout.write(f"demo data: {seeder.name}")
