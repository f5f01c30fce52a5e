"""Dashboards and wall screens.

- A dashboard is a JSON document (``document.py``): widgets on a 24-column grid, each bound to a
  named query of the core registry (``apps.core.widgets``: every app registers its own from its
  ``apps.py``) or to a data source (HTTP JSON, uploaded CSV/Excel: ``sources.py``). Owned by an
  organization, shared with people, versioned on every save, exported and imported as files.
- Console: ``/console/dashboards/`` (list, new from a template, import), ``<uid>/`` (live view),
  ``<uid>/edit/`` (gridstack editor with live previews, versions and restore). Portal:
  ``/portal/dashboards/``. API: ``/api/v1/dashboards/dashboards/`` and ``.../data-sources/``,
  ``/api/v1/dashboards/catalog/``.
- Live: a committed event whose topic kind a query names (``resource``, ``operation`` ...) sends the
  dashboards above its organization a ``data`` notice naming the widgets to re-read
  (``live.py``, coalesced per organization); each viewer re-reads them with its own permissions.
- Wall screens: ``/screens/`` (a display token's dashboards, rotating every ``?rotate=`` seconds) and
  ``/screens/d/<uid>/``: kiosk, fit to the screen, reconnecting, with a banner when the connection
  is lost or data is stale, reloading when the dashboard is edited.
- HTTP data sources reach only public addresses unless ``UNIMANAGER_DASHBOARDS_HTTP_ALLOW`` lists
  networks (comma-separated CIDRs).
"""
