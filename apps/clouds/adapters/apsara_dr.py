"""Companion of the apsara adapter: registers its dr services (see ``extensions``)."""

from __future__ import annotations
