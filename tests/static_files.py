"""Static files found once per test session (a pytest plugin, loaded by the root ``conftest.py``).

Django's test client loads the middleware again for every client it creates, and WhiteNoise's
middleware (``WHITENOISE_USE_FINDERS``) then walks every file of every static directory: about 1,150
files of the front-end packages under ``node_modules`` per client, which made it the largest single
cost of the fast tier (a test sending 320 requests, each from a new client, spent 261 of its 306 s
there under a profiler). The files and their headers are the same all session long, so the first
scan under a given configuration is kept and handed to each later instance. Server processes load
their middleware once and are not affected.
"""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    from whitenoise.middleware import WhiteNoiseMiddleware

    original = WhiteNoiseMiddleware.add_files_from_finders
    if getattr(original, "scanned_once", False):
        return
    scanned: dict[str, dict[str, Any]] = {}

    def add_files_from_finders(self: WhiteNoiseMiddleware) -> None:
        from django.conf import settings

        # Everything the files found and their responses depend on.
        key = repr((self.static_prefix, [str(d) for d in settings.STATICFILES_DIRS],
                    list(getattr(settings, "STATICFILES_FINDERS", [])), list(settings.INSTALLED_APPS),
                    settings.DEBUG, {name: getattr(settings, name) for name in dir(settings)
                                     if name.startswith("WHITENOISE_")}))
        found = scanned.get(key)
        if found is None:
            kept, self.files = self.files, {}
            try:
                original(self)
                found = scanned[key] = self.files
            finally:
                self.files = kept
        self.files.update(found)

    add_files_from_finders.scanned_once = True  # type: ignore[attr-defined]
    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders  # type: ignore[method-assign]
