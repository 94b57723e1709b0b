"""The engine's defaults, in one place, and how to say "skip this step" and "off".

Every signature in the engine that has one of these parameters takes its default from
:data:`DEFAULTS`: :class:`~segmentation.engine.pipeline.SegmentationPipeline`, its steps
(:class:`~segmentation.engine.steps.FeaturePreprocessor`,
:class:`~segmentation.engine.steps.AutoEncoderTransformer`), the autoencoder itself
(:func:`~segmentation.engine.autoencoder.fit_autoencoder`,
:class:`~segmentation.engine.autoencoder.LitAutoEncoder`), and the snapshot's parameters
(``segmentation.workflows.snapshot.SnapshotParams``) where the snapshot does not choose
otherwise. ``tests/engine/test_defaults.py`` checks every such signature against :data:`DEFAULTS`.
Why the autoencoder's values are these: docs/engine.md (measured on the demo, five seeds).

The spellings, the same for every step and switch:

* a step (``encoder``, ``reducer``, ``map_reducer``): ``None`` is the default step,
  :data:`SKIP` (``"passthrough"``, as in scikit-learn) leaves it out;
* a post-processing switch (``outlier_floor``, ``refine_neighbors``, ``merge_alpha``,
  ``twin_distance``, ``split_distance``, ``reproducible_below``, ``join_noise``): ``None`` is off; any other value turns it on with that setting.

:data:`BEFORE_ADDED` holds, for the parameters added after models were first saved, the value
the versions before them used: a stored model that lacks one is scored the way it was fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from segmentation.engine.resemblance import TWIN, UNLIKE

__all__ = ["EngineDefaults", "DEFAULTS", "SKIP", "REST_ALIKE", "AUTOENCODER_PARAMS", "BEFORE_ADDED"]

#: The value of a step parameter that leaves the step out (scikit-learn's spelling).
SKIP = "passthrough"

#: ``mix_twins`` that also asks the columns outside the mix to be alike (a purchase log's value and rhythm).
REST_ALIKE = "rest alike"


@dataclass(frozen=True)
class EngineDefaults:
    """Default value of each engine parameter, under the parameter's own name (units in the comments)."""

    # The denoising autoencoder (docs/engine.md has the demo measurements behind latent 16, hidden
    # (128, 64), input dropout 0.3 and noise 0.2).
    latent_dim: int = 16
    hidden_dims: tuple[int, ...] = (128, 64)
    dropout: float = 0.0  # between the layers
    input_dropout: float = 0.3  # share of each training row's features zeroed
    noise_std: float = 0.2  # Gaussian noise added to the training rows (scaled-feature units)
    max_epochs: int = 100
    batch_size: int = 256  # rows
    patience: int = 8  # epochs without a better validation loss before training stops
    val_fraction: float = 0.1  # of the training rows, held out for the validation loss
    # Training rows, shared by an ensemble's members (each trains on its own seeded sample of
    # max_train_rows / ensemble_size rows when there are more; None: every row).
    max_train_rows: int | None = 200_000
    # Autoencoders trained with different seeds whose standardised latents are put side by side. One
    # is the default: three made pipeline seeds agree a little better at the same ARI but tripled the
    # training time below 66,000 fitted customers (benchmarks/results/tuning.md, round 3).
    ensemble_size: int = 1
    # The preprocessed features beside the code, their block's total spread this many times the code's
    # (0: the code alone): round 4 of benchmarks/results/tuning.md.
    input_weight: float = 1.0
    # The weight of the count-aware loss on the share families (0: off, plain MSE). Off in the engine,
    # which needs each share's count (count_columns) for it; the snapshot sets 10 wherever it knows
    # them (snapshot.COUNT_LOSS, v25: benchmarks/results/count_features_tuning.md).
    count_loss: float = 0.0
    # The weight (0-1) of the cross-half targets on the behaviour mix (0: off; an option): the network
    # rebuilds one half of a customer's events from the other (segmentation/engine/autoencoder.py).
    cross_halves: float = 0.0
    lr: float = 1e-3
    weight_decay: float = 1e-5
    # Preprocessing.
    scaler: str = "standard"
    share_weight_power: float = 0.0
    # The cluster space (UMAP) and the clusterer (HDBSCAN).
    cluster_dims: int = 8
    n_neighbors: int = 15
    # The cluster space's UMAP takes at least this share of the fit sample as each row's neighbours
    # (None: n_neighbors alone). An option: 0.0006 (30 neighbours at 50,000 rows, 15 under 25,000)
    # moved the 1M demo's tuning seeds 0-3 by +0.037, +0.002, -0.008, +0.010
    # (benchmarks/results/umap_neighbours_tuning.md) and the reported seed 7 by -0.009 (0.881 -> 0.872,
    # benchmarks/results/scale_1000000_v30_neighbours.md): not the default (README v30).
    neighbors_share: float | None = None
    min_cluster_size: float = 0.01  # a share of the fit sample below 1, else rows
    min_samples: float | None = None  # None: min_cluster_size (HDBSCAN's own rule); below 1 a share
    cluster_selection_epsilon: float = 0.0
    cluster_selection_method: str = "eom"
    # Post-processing of the clusters; None is off.
    # Noise whose soft membership of a segment is at least this joins it (round 4 of tuning.md).
    outlier_floor: float | None = 0.1
    merge_alpha: float | None = None
    twin_distance: float | None = TWIN
    # A cluster whose children in HDBSCAN's tree differ in behaviour mix by more than this is split
    # into them (segmentation/engine/descent.py). On the tuning seeds it raised the ARI of single fits
    # (0.776 -> 0.807, none worse; benchmarks/results/descent_tuning.md), and a blend forming inside a
    # persona's segment is found only with it (the refits lumped it). It was off while the mix held
    # ``trend``, by which a growing segment's sign-ups were split off (snapshot.NOT_MIX).
    split_distance: float | None = UNLIKE
    # With the features on two halves of each customer's events, segments whose mix difference the
    # customers do not repeat are twins (segmentation/engine/repeated.py): pockets of one behaviour
    # whose few events leaned one way by chance (benchmarks/results/repeated_tuning.md).
    mix_twins: bool | str = True  # or REST_ALIKE
    # A segment under this share of the fit sample is kept only when HDBSCAN refitted on resamples finds
    # it again (segmentation/engine/reproducible.py); None: off, the clusterer's floor alone decides.
    reproducible_below: float | None = None
    refine_neighbors: int | None = 15
    # A noise customer joins the segment that holds more than this share of its 30 nearest segmented
    # customers in the preprocessed features, when it is within reach of them (DBSCAN's border rows;
    # segmentation/engine/mapping.py, join_noise). HDBSCAN's
    # min_samples grows with the fit sample (1,000 rows at 50,000), so at scale it leaves out the thin
    # edges of segments: 6.3 % noise on a 200,000-customer demo, 1.5 % after the join (README v28).
    join_noise: float | None = 0.8
    # The segments' edges redrawn by a linear discriminant in the preprocessed features, and noise within
    # this quantile of a segment's own spread joining it (segmentation/engine/polish.py). An option,
    # off (v26: benchmarks/results/polish_tuning.md; README v26 says what it costs: digits' pixels and
    # the web timelines' false events).
    polish: float | None = None
    # Where the polish draws its discriminant: "features" (the preprocessed features, v26) or "latent"
    # (what UMAP and the mapping see: the autoencoder's code beside the features).
    polish_space: str = "features"
    # A fit sample of at least this many rows is polished (spread 0.99, in the latent space) when ``polish``
    # is not set; None: the size never turns it on. At 50,000 rows HDBSCAN's density neighbourhood is
    # 500-1,000 rows and blurs the edges between touching segments: on the 1M demo's sample (tuning data
    # seeds 0 and 1, pipeline seeds 0-2) the polish lifted every fit, mean ARI 0.876 -> 0.894 against
    # KMeans told k's 0.887 (benchmarks/results/sample_seeds_probe_polish.md, README v34). Below it (the
    # scenarios, digits, the demo, the timelines: at most 20,000 rows) it stays off for what it costs there
    # (README v26, v31).
    polish_from: int | None = 25_000
    # Fits of the fit sample with their own seeds whose agreement gives the segments (1: one fit; an
    # option: segmentation/engine/consensus.py, benchmarks/results/consensus_tuning.md).
    consensus: int = 1
    # Fit on a sample, assign everyone.
    fit_sample_size: int = 50_000  # rows
    random_state: int = 0


DEFAULTS = EngineDefaults()

#: The pipeline parameters that configure its default encoder, the autoencoder (same names there).
AUTOENCODER_PARAMS = ("latent_dim", "hidden_dims", "dropout", "input_dropout", "noise_std", "max_epochs",
                      "ensemble_size", "input_weight", "count_loss",
                      "cross_halves")

# Before input_dropout and noise_std were parameters the autoencoder was trained with 0.1 and 0.05;
# the other switches did not exist, which is the same as off; one autoencoder was trained, and its
# code alone went on to UMAP.
BEFORE_ADDED = {"ensemble_size": 1, "input_weight": 0.0, "count_loss": 0.0, "count_columns": None, "input_dropout": 0.1, "noise_std": 0.05, "refine_neighbors": None, "share_counts": None,
                "feature_weights": None, "cluster_selection_method": "eom", "merge_alpha": None,
                "twin_distance": None, "split_distance": None, "mix_columns": None, "mix_twins": False,
                "reproducible_below": None, "consensus": 1, "cross_halves": 0.0,
                "polish": None, "join_noise": None,
                "neighbors_share": None, "polish_space": "features", "polish_from": None}
