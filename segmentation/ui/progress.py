"""From the step messages of a snapshot or timeline to a progress fraction (no streamlit here).

``run_snapshot`` / ``run_timeline`` report steps as text (``progress=`` callback);
the autoencoder reports epochs through a Lightning callback. :class:`StepProgress`
turns both into one number between 0 and 1 for a progress bar.
"""

from __future__ import annotations

import re
from typing import Callable

__all__ = ["StepProgress", "epoch_callback", "plain_step"]

# Where each step of one snapshot starts (fraction of the snapshot); training fills the gap
# between "training" and "embedding" epoch by epoch.
STEP_STARTS = (
    ("features", 0.02),
    ("fitting new models", 0.06),
    ("drift check", 0.06),
    ("training", 0.10),
    ("embedding", 0.50),
    ("clustering:", 0.72),  # the summary line after assigning; before the "clustering" step
    ("clustering", 0.62),
    ("mapping", 0.66),
    ("assigning", 0.70),
    ("profiles", 0.75),
    ("tracking", 0.90),
    ("stored", 1.0),  # before "store", which it starts with
    ("store", 0.95),
)
TRAINING_SPAN = (0.10, 0.50)
# What each step is, in a marketer's words (the step messages themselves are for analysts).
PLAIN_STEPS = (
    ("features", "reading the customers' behaviour"),
    ("drift check", "checking whether the current segments still fit"),
    ("fitting new models", "learning the customers' behaviour"),
    ("training", "learning the customers' behaviour"),
    ("embedding", "placing the customers side by side"),
    ("clustering:", "describing the segments"),
    ("clustering", "finding the segments"),
    ("mapping", "drawing the map"),
    ("assigning", "assigning every customer"),
    ("profiles", "describing the segments"),
    ("rules", "writing each segment as rules"),
    ("lookalikes", "measuring lookalikes"),
    ("tracking", "comparing with the previous snapshot"),
    ("stored", "stored"),
    ("store", "saving"),
)
_TIMELINE_STEP = re.compile(r"^\[(\d+)/(\d+)\]")


class StepProgress:
    """Keeps the fraction done (0–1) of a snapshot or a timeline from its messages.

    ``update(message)`` returns the new fraction; it never goes backwards.
    ``epoch(done, total)`` moves the bar through the autoencoder's training.
    """

    def __init__(self) -> None:
        self.snapshot_index, self.snapshot_count = 0, 1
        self.within = 0.0
        self.fraction = 0.0

    def _overall(self) -> float:
        value = (self.snapshot_index + self.within) / max(self.snapshot_count, 1)
        self.fraction = max(self.fraction, min(value, 1.0))
        return self.fraction

    def update(self, message: str) -> float:
        text = message.strip()
        timeline = _TIMELINE_STEP.match(text)
        if timeline:
            self.snapshot_index = int(timeline.group(1)) - 1
            self.snapshot_count = int(timeline.group(2))
            self.within = 1.0 if "skipped" in text else 0.0
            return self._overall()
        for prefix, start in STEP_STARTS:
            if text.startswith(prefix):
                self.within = max(self.within, start)
                break
        return self._overall()

    def epoch(self, done: int, total: int) -> float:
        low, high = TRAINING_SPAN
        self.within = max(self.within, low + (high - low) * min(done / max(total, 1), 1.0))
        return self._overall()


def plain_step(message: str) -> str | None:
    """The step a snapshot message starts, in plain words (``[2/3] snapshot 2025-05-31`` → snapshot 2 of 3);
    None for a detail line."""
    text = message.strip()
    timeline = _TIMELINE_STEP.match(text)
    if timeline:
        return f"snapshot {timeline.group(1)} of {timeline.group(2)}"
    if message.startswith(" "):
        return None
    return next((plain for prefix, plain in PLAIN_STEPS if text.startswith(prefix)), None)


def epoch_callback(on_epoch: Callable[[int, int], None]):
    """A Lightning callback calling ``on_epoch(epochs_done, max_epochs)`` after each training epoch."""
    from pytorch_lightning.callbacks import Callback

    class EpochProgress(Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102
            on_epoch(int(trainer.current_epoch) + 1, int(trainer.max_epochs or 1))

    return EpochProgress()
