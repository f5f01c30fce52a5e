"""Companion of the aws adapter: registers its dr services (see ``extensions``)."""

from __future__ import annotations
