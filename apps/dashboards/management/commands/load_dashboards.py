"""``manage.py load_dashboards [FOLDER]``: load the dashboard files of a folder (``apps.dashboards.folder``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.dashboards.folder import configured_folder, load_folder


class Command(BaseCommand):
    help = "Load dashboards from the JSON files of a folder (default: DASHBOARDS_DIR / UNIMANAGER_DASHBOARDS_DIR)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("folder", nargs="?", help="the folder (default: the configured one)")

    def handle(self, *args: Any, folder: str | None = None, **options: Any) -> None:
        folder = folder or configured_folder()
        if folder is None:
            raise CommandError("No folder: give one or set UNIMANAGER_DASHBOARDS_DIR.")
        results = load_folder(folder)
        for r in results:
            line = f"{r.file}: {r.status}" + (f" {r.uid}" if r.uid else "") + (f" - {r.error}" if r.error else "")
            self.stdout.write(line)
        failed = [r for r in results if r.status == "error"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} files were not loaded.")
