"""A snapshot's progress in a marketer's words (no streamlit here).

The workflows report :class:`~segmentation.workflows.progress.ProgressEvent` s: the bar is their
``fraction``; :func:`plain_words` says their stage the way a marketer would (the events' lines
are for analysts).
"""

from __future__ import annotations

from segmentation.workflows.progress import ProgressEvent, Stage

__all__ = ["PLAIN_WORDS", "plain_words"]

# What each stage is, in a marketer's words ({snapshot} of {snapshots}: its place in a timeline).
PLAIN_WORDS = {
    Stage.SNAPSHOT: "snapshot {snapshot} of {snapshots}",
    Stage.FEATURES: "reading the customers' behaviour",
    Stage.DRIFT_CHECK: "checking whether the current segments still fit",
    Stage.FITTING: "learning the customers' behaviour",
    Stage.TRAINING: "learning the customers' behaviour",
    Stage.EMBEDDING: "placing the customers side by side",
    Stage.CLUSTERING: "finding the segments",
    Stage.CONSENSUS: "finding the segments again with other seeds",
    Stage.MAPPING: "drawing the map",
    Stage.ASSIGNING: "assigning every customer",
    Stage.SEGMENTS: "describing the segments",
    Stage.PROFILES: "describing the segments",
    Stage.RULES: "writing each segment as rules",
    Stage.LOOKALIKES: "measuring lookalikes",
    Stage.TRACKING: "comparing with the previous snapshot",
    Stage.STORE: "saving",
    Stage.STORED: "stored",
    Stage.SKIPPED: "snapshot {snapshot} of {snapshots}",
}


def plain_words(event: ProgressEvent) -> str:
    """The stage of ``event`` in plain words (``snapshot 2 of 3``; ``learning the customers' behaviour
    (5 of at most 40 passes)`` during the training)."""
    words = PLAIN_WORDS[event.stage].format(snapshot=event.snapshot, snapshots=event.snapshots)
    if event.epochs:
        words += f" ({event.epoch} of at most {event.epochs} passes)"
    return words
