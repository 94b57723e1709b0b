"""Leaf constants shared across layers (imports nothing from the package)."""

from __future__ import annotations

#: The segment id of customers no segment fits (HDBSCAN's noise label).
NOISE = -1

#: A change of at least this share of a segment's size makes it GROWING / FADING on the Overview,
#: and a survivor that changed this much "grew" / "shrank" in the dynamics.
GROWTH = 0.15

#: A new lineage is announced (emerged, split off) once it holds this share of a snapshot's customers;
#: below it the group is "forming" and its end, if it ends, is "dissolved", not a disappearance. The
#: change suite counts a planted change from the same share (a segment floor under it only lets the
#: workbench see a group sooner, not report it sooner).
ANNOUNCE_SHARE = 0.02
