"""Leaf constants shared across layers (imports nothing from the package)."""

from __future__ import annotations

#: The segment id of customers no segment fits (HDBSCAN's noise label).
NOISE = -1

#: A change of at least this share of a segment's size makes it GROWING / FADING on the Overview,
#: and a survivor that changed this much "grew" / "shrank" in the dynamics.
GROWTH = 0.15
