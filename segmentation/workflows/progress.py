"""Progress of the workflows as structured events, not prose to parse.

:class:`Stage` lists the stages of a snapshot in the order they run, each with its place in the
snapshot (the fraction done when it starts); :class:`ProgressEvent` is one step: its stage, the
line the command line prints, and as fields what a progress bar needs (the training's epochs, the
snapshot's place in its timeline) and whether the line is a note. :data:`Progress` is the optional
callback (``None`` = silent) that receives the events, :func:`say` and :func:`say_note` send one.
Wrappers: :func:`in_timeline` (the events of one snapshot of a timeline), :func:`keeping_notes`
(collects the notes), :func:`as_lines` (the lines only, for a terminal or a log), and
:func:`epoch_callback` turns the autoencoder's training epochs into events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Callable, Optional

__all__ = ["Stage", "ProgressEvent", "Progress", "say", "say_note", "in_timeline", "keeping_notes", "as_lines",
           "epoch_callback"]


class Stage(Enum):
    """Where a workflow is: the stages of a snapshot in the order they run, each with its ``start``
    (the fraction of the snapshot done when it starts). A stage lasts until the next one starts; the
    autoencoder's training fills its span epoch by epoch.

    The value is the stage's name; the pipeline's stages (``SegmentationPipeline.fit``'s ``on_step``)
    have the names it gives them. ``assign`` reports its notes at FEATURES and its scoring at
    ASSIGNING. A timeline reports SNAPSHOT as each of its snapshots starts, and SKIPPED for a date
    that already has its run.
    """

    def __new__(cls, value: str, start: float) -> "Stage":
        member = object.__new__(cls)
        member._value_ = value
        member.start = start
        return member

    SNAPSHOT = "snapshot", 0.0  # a timeline's next snapshot
    FEATURES = "features", 0.02  # the feature table (and the values it filled in)
    DRIFT_CHECK = "drift check", 0.06  # the previous models score the customers: reuse or refit?
    FITTING = "fitting", 0.06  # new models: why, then the preprocessing
    TRAINING = "training", 0.10  # the autoencoder, epoch by epoch
    EMBEDDING = "embedding", 0.50
    CLUSTERING = "clustering", 0.62
    CONSENSUS = "consensus", 0.64  # with the consensus option: the fit sample fitted again, fit by fit
    MAPPING = "mapping", 0.66
    ASSIGNING = "assigning", 0.70  # every customer scored with the models
    SEGMENTS = "segments", 0.72  # the segments found, the noise, the notes on the models
    PROFILES = "profiles", 0.75
    RULES = "rules", 0.80
    LOOKALIKES = "lookalikes", 0.85
    TRACKING = "tracking", 0.90
    STORE = "store", 0.95
    STORED = "stored", 1.0  # committed: the snapshot is done
    SKIPPED = "skipped", 1.0  # a timeline's date that already has its run

    @property
    def end(self) -> float:
        """Where the stage's span ends: the start of the next stage (1 for the last)."""
        return min((stage.start for stage in Stage if stage.start > self.start), default=1.0)


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a workflow.

    ``message`` is the line the command line prints as it is ("" for an event without one: a
    training epoch); ``note`` the sentence of a note, kept with the run, when the line is one;
    ``epoch`` of at most ``epochs`` the training's progress (the autoencoder may stop earlier);
    ``snapshot`` of ``snapshots`` the snapshot's place in its timeline (1 of 1 alone).
    """

    stage: Stage
    message: str = ""
    note: str | None = None
    epoch: int = 0
    epochs: int = 0
    snapshot: int = 1
    snapshots: int = 1

    @property
    def within(self) -> float:
        """The fraction of the stage done: the training's epochs, else 0 (the stage has started)."""
        return min(self.epoch / self.epochs, 1.0) if self.epochs else 0.0

    @property
    def fraction(self) -> float:
        """The fraction of the work done (0–1): of the snapshot, and of the timeline it belongs to."""
        stage = self.stage.start + self.within * (self.stage.end - self.stage.start)
        return (self.snapshot - 1 + stage) / max(self.snapshots, 1)


Progress = Optional[Callable[[ProgressEvent], None]]


def say(progress: Progress, stage: Stage, message: str = "", **fields: Any) -> None:
    """Send ``progress`` the event of ``stage`` with ``message`` and the other ``fields`` of
    :class:`ProgressEvent` (nothing when it is None)."""
    if progress is not None:
        progress(ProgressEvent(stage, message, **fields))


def say_note(progress: Progress, stage: Stage, sentence: str, indent: str = "  ") -> None:
    """Send ``progress`` a note of ``stage``: ``sentence`` (plain words, no customer data), printed as
    ``note: …`` after ``indent``."""
    say(progress, stage, f"{indent}note: {sentence}", note=sentence)


def in_timeline(progress: Progress, snapshot: int, snapshots: int) -> Progress:
    """``progress`` for the ``snapshot``-th of ``snapshots`` snapshots of a timeline: its events say so."""
    if progress is None:
        return None
    return lambda event: progress(replace(event, snapshot=snapshot, snapshots=snapshots))


def keeping_notes(progress: Progress, notes: list[str]) -> Callable[[ProgressEvent], None]:
    """``progress`` that also appends the sentence of every note it is sent to ``notes``."""

    def report(event: ProgressEvent) -> None:
        if event.note is not None:
            notes.append(event.note)
        if progress is not None:
            progress(event)

    return report


def as_lines(write: Optional[Callable[[str], None]]) -> Progress:
    """The events' lines given to ``write`` (a terminal, a log); events without one (training epochs)
    are left out. None stays None."""
    if write is None:
        return None
    return lambda event: write(event.message) if event.message else None


def epoch_callback(progress: Progress):
    """A Lightning callback sending ``progress`` a TRAINING event after each epoch (epochs done, of at
    most the trainer's ``max_epochs``; for an ensemble of autoencoders, of at most ``max_epochs`` per
    member, counting the members trained before)."""
    from pytorch_lightning.callbacks import Callback

    class EpochProgress(Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102 - Lightning hook
            which, of = getattr(pl_module, "ensemble_member", (0, 1))
            per_member = int(trainer.max_epochs or 1)
            say(progress, Stage.TRAINING, epoch=which * per_member + int(trainer.current_epoch) + 1,
                epochs=of * per_member)

    return EpochProgress()
