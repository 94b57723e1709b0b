"""Leaf constants shared across layers (imports nothing from the package)."""

from __future__ import annotations

#: The segment id of customers no segment fits (HDBSCAN's noise label).
NOISE = -1
