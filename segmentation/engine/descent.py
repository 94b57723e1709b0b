"""A cluster HDBSCAN selected is split into parts when the leaves of its tree hold different behaviour mixes.

HDBSCAN's excess-of-mass selection keeps a parent cluster whenever it is more stable than its
children together. Two behaviours that sit side by side in the cluster space, a persona and a
blend that shares its channels but not its categories, are then one segment, though the
condensed tree holds them apart further down. :func:`split_distinct_children` takes the leaves of
each selected cluster's subtree (the deepest groups of at least the segment floor) and groups them
by their *mix* (the lift profiles of the share columns, what customers do, where and when, not how
much or how well): average linkage, cut at a threshold (the pipeline's ``split_distance``;
:data:`~segmentation.engine.resemblance.UNLIKE`, the distance at which the dynamics call a segment
new behaviour, is the value measured). Leaves that mix alike stay one part wherever the tree put
them; two or more parts split the cluster. Until v15 the walk compared each node's children and
stopped where they looked alike, which missed a behaviour when both children held some of it
(tuning seeds: `benchmarks/results/leaves_tuning.md`). The snapshot's mix leaves out ``trend`` (the share of a
customer's events in the window's recent half): with it, a growing persona's recent sign-ups were
split off over a timeline (docs/engine.md).

Only the mix decides, not intensity or outcomes (counts, money, rates): within one behaviour
those vary continuously, and at small counts ratios such as conversion are lumpy, so the tree
splits along them without there being two behaviours (a single planted persona's children were
1.1 apart on every feature and 0.48 on the mix, the blend and its persona 1.2 on the mix).
Rows of a split cluster that left the tree above the leaves (or joined it through the outlier
floor) go to the part most of their nearest rows of that cluster belong to.

Pure numpy/scikit-learn on a fitted ``hdbscan.HDBSCAN``: no database, no UI.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

__all__ = ["split_distinct_children"]


class _Tree:
    """The cluster nodes of a condensed tree and the rows under each."""

    def __init__(self, clusterer, n_rows: int):
        tree = clusterer.condensed_tree_.to_numpy()
        nodes = tree[tree["child_size"] > 1]
        self.children: dict[int, list[int]] = defaultdict(list)
        self.parent: dict[int, int] = {}
        for p, c in zip(nodes["parent"].tolist(), nodes["child"].tolist()):
            self.children[p].append(c)
            self.parent[c] = p
        rows = tree[tree["child_size"] == 1]
        self.deepest = np.full(n_rows, -1, dtype=np.int64)  # the node each row falls out of
        self.deepest[rows["child"]] = rows["parent"]

    def ancestors(self, node: int) -> list[int]:
        out = [node]
        while node in self.parent:
            node = self.parent[node]
            out.append(node)
        return out

    def rows_under(self, node: int) -> np.ndarray:
        """A mask of the rows that fall out of ``node`` or of a node below it."""
        below, stack = {node}, [node]
        while stack:
            for child in self.children.get(stack.pop(), []):
                below.add(child)
                stack.append(child)
        return np.isin(self.deepest, list(below))

    def selected(self, rows: np.ndarray) -> int:
        """The deepest node above every one of ``rows`` (the cluster HDBSCAN selected for them)."""
        nodes = np.unique(self.deepest[rows])
        common = set(self.ancestors(int(nodes[0])))
        for node in nodes[1:]:
            common &= set(self.ancestors(int(node)))
        return max(common)


def _leaves(tree: _Tree, node: int) -> list[int]:
    """The nodes under ``node`` (itself included) that have no children of their own, in tree order."""
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        children = tree.children.get(current, [])
        if children:
            stack.extend(reversed(children))
        else:
            out.append(current)
    return out


def _parts(tree: _Tree, node: int, mix: np.ndarray, threshold: float, halves=None) -> list[list[int]]:
    """The parts ``node`` splits into, each a list of leaf nodes: ``[[node]]`` when it stays whole.

    The leaves under ``node`` are grouped by average linkage on their mix distance (with ``halves``,
    in what their customers repeat on both halves of their events), cut at ``threshold``: leaves
    that behave alike form one part, wherever they sit in the tree. Comparing only a node's
    children missed behaviours that the tree parts one level further down: two children that
    each hold some of both mix to look alike (a blend beside its persona: 0.77 apart as
    children, 0.95 and more as leaves).
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    from segmentation.engine.resemblance import lifts_of_labels, profile_distance, repeated_distances

    leaves = _leaves(tree, node)
    if len(leaves) < 2:
        return [[node]]
    labels = np.full(len(mix), -1)
    for i, leaf in enumerate(leaves):
        labels[tree.rows_under(leaf)] = i
    lifts = lifts_of_labels(mix, labels)
    if len(lifts) != len(leaves):
        return [[node]]
    distance = repeated_distances(mix, labels, lifts.index.to_numpy(), profile_distance(lifts, lifts).to_numpy(), halves)
    groups = fcluster(linkage(squareform(distance, checks=False), method="average"), t=threshold, criterion="distance")
    if len(np.unique(groups)) < 2:
        return [[node]]
    return [[leaves[i] for i in np.flatnonzero(groups == g)] for g in np.unique(groups)]


def split_distinct_children(clusterer, mix: np.ndarray, labels: np.ndarray, threshold: float,
                            space: np.ndarray | None = None, n_neighbors: int = 15,
                            halves=None) -> tuple[np.ndarray, list[dict]]:
    """Split each cluster of ``labels`` whose leaves in ``clusterer``'s condensed tree form groups of different mix
    (:func:`_parts`; the name is from when the split compared a node's children).

    ``mix``: the rows' mix columns (rows × columns, the rows the clusterer was fitted on);
    ``labels``: the clusterer's labels, possibly after the outlier floor. Returns the new labels
    (a split cluster keeps its id for its largest part, the other parts get ids after the largest
    label) and one dict per split cluster (``cluster``, ``into``: ids largest part first, ``sizes``).
    ``space`` (default ``mix``): where the rows' nearest rows are looked for, for the rows of a split
    cluster no leaf holds. ``halves`` (a :class:`~segmentation.engine.repeated.SplitHalves` of the
    ``mix`` columns; None: off): the leaves' mix distance counts only for the part of it their
    customers repeat on both halves of their events (:func:`~segmentation.engine.repeated.repeated_share`),
    so a pocket of customers whose few events leaned one way by chance is not split off.
    """
    labels = np.asarray(labels, dtype=np.int64)
    raw = np.asarray(clusterer.labels_, dtype=np.int64)
    out = labels.copy()
    if raw.max(initial=-1) < 0:
        return out, []
    tree = _Tree(clusterer, len(raw))
    mix = np.asarray(mix, dtype=np.float64)
    space = mix if space is None else np.asarray(space)
    next_id = int(labels.max()) + 1
    splits = []
    for cluster in np.unique(raw[raw >= 0]):
        parts = _parts(tree, tree.selected(raw == cluster), mix, threshold, halves)
        if len(parts) < 2:
            continue
        rows = np.flatnonzero(labels == cluster)
        part = np.full(len(raw), -1)
        for i, nodes in enumerate(parts):
            for node in nodes:
                part[tree.rows_under(node)] = i
        known, unknown = rows[part[rows] >= 0], rows[part[rows] < 0]
        if len(unknown):
            vote = KNeighborsClassifier(n_neighbors=min(n_neighbors, len(known))).fit(space[known], part[known])
            part[unknown] = vote.predict(space[unknown])
        sizes = np.bincount(part[rows], minlength=len(parts))
        order = np.argsort(-sizes, kind="stable")
        ids = {int(order[0]): int(cluster)}
        for i in order[1:]:
            ids[int(i)], next_id = next_id, next_id + 1
        out[rows] = [ids[int(i)] for i in part[rows]]
        splits.append({"cluster": int(cluster), "into": [ids[int(i)] for i in order],
                       "sizes": [int(s) for s in sizes[order]]})
    return out, splits
