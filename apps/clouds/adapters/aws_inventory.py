"""Companion of the aws adapter: registers its inventory services (see ``extensions``)."""

from __future__ import annotations
