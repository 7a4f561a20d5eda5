"""Vendor adapters, plain Python. ``providers.registry`` is the one table of vendors;
``get_provider_class("together")`` is its door, kept here for short imports."""

from __future__ import annotations

from providers.registry import VENDORS, get_provider_class

__all__ = ["VENDORS", "get_provider_class"]
