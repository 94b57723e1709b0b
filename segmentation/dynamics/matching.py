"""Which segment of one snapshot became which of the next: membership *and* behaviour.

Two kinds of evidence decide a transition:

* **membership** — the share of customers two segments have in common (MONIC's
  overlap, :func:`overlap_table`);
* **behaviour** — how alike the two segments' lift profiles are
  (:mod:`segmentation.engine.resemblance`), a space comparable across snapshots and models.

:func:`match_segments` uses both:

* **emerged** — unlike every earlier segment (profile distance above ``UNLIKE`` from
  all of them), wherever its members were assigned before: under reused models a
  forming segment's customers sit in the nearest old segment until a refit, and that
  is not a split. Unless it holds most (``SAME_CUSTOMERS``) of an old segment's
  customers: then it is that segment, sharpened (a young segment's profile
  moves a lot as it grows purer). Nor when its behaviour is not new: when most of its
  customers (``tau``) come from one old segment, and those customers behaved the same way
  no later than when the old segment's models were fitted (``behaviour_shift`` at most
  ``SHIFTED``; the caller picks the window: the one before this snapshot's, or the fitting
  snapshot's when models were reused and that is earlier), the old fit had merged two
  behaviours that this one tells apart: a part of that segment (``split``), not an emergence;
* otherwise each new segment's **parent** is, among the old segments it resembles,
  the one it shares most customers with (the nearest by profile when it shares none);
* **survived** — the old segment's one child (or, of several, the one holding most of
  its customers; the others are split-offs: ``split``, unless most of their customers came to the
  old segment since its lineage began: a behaviour that formed inside it, ``emerged``);
* **split** — at least two children, each resembling the parent, each holding at least
  ``tau_split`` of it and together at least ``tau``, none of them more than ``tau`` (a child
  holding most of the parent survives it and the others split off: a segment that absorbed
  customers under reused models and sheds them at the refit goes on); or, when nothing continues an old
  segment, at least two new segments unlike every old one, each made mostly (``tau``) of
  its customers and together holding ``tau`` of it: its customers went two new ways (and
  when they went one new way, alone holding at least ``tau_split`` of its customers still in
  the snapshot, that new segment *survives* it, with its behaviour shifted: the segment changed,
  nothing emerged; a fading segment's last customers are few of what it held, but all of it that is left);
* **split**, too — a new segment unlike every old one, made mostly (``tau``) of one old segment's
  customers and holding ``tau_split`` of it, beside that segment's heir whose customers changed
  their behaviour as well (``behaviour_shift`` above ``SHIFTED``): the old behaviour went two new
  ways. A behaviour forming inside a segment leaves the heir's customers as they were: emerged;
* **merged** — an old segment nobody chose as parent whose customers went, at least
  ``tau`` of them, into one new segment that another old segment survives into; or an old
  segment whose heir keeps less than ``tau`` of it while at least ``tau`` went into another's
  survivor, the customers on both sides having changed behaviour (``behaviour_shift``): a
  behaviour it held converged with another's, and the heir is the part it left behind (a fit that
  had lumped two personas, one of which merges with a third);
* **survived**, too — an old segment with no successor yet and a new segment still unexplained,
  made mostly (``tau``) of customers who were here before, that hold a part (``tau_split``) of each
  other both ways: the refit drew the same small group again with another edge (and so another profile);
* **survived**, too — an announced old segment most (``SAME_CUSTOMERS``) of whose customers are in a
  part that another old segment shed beside its heir: the refit drew the small segment again with
  some of its neighbour's customers; it goes on, and the neighbour goes on in its heir (not a split
  of the neighbour beside a disappearance). A group still forming does not: a child that formed early
  as a small group and then took its share of the parent is the parent's split;
* **disappeared** — an old segment with no successor.

:func:`monic_transitions` is the classic membership-only rule, kept as the baseline the
dynamics benchmark compares with. Pure pandas: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from segmentation.constants import NOISE
from segmentation.engine.resemblance import SHIFTED, UNLIKE, profile_distance

__all__ = ["Thresholds", "overlap_table", "monic_transitions", "match_segments", "NOISE", "TRANSITION_FRAME"]

#: Share of an old segment's customers a new one must hold to continue it whatever its profile:
#: most of them, not a half that went its own way (that is a split, or new behaviour).
SAME_CUSTOMERS = 0.75
TRANSITION_FRAME = ["from_segment", "to_segment", "kind", "overlap"]


@dataclass(frozen=True)
class Thresholds:
    """``tau``: share of an old segment that must stay together to survive;
    ``tau_split``: smallest share that counts as a part (of a split, or as a source)."""

    tau: float = 0.5
    tau_split: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.tau_split <= self.tau <= 1:
            raise ValueError("thresholds must satisfy 0 < tau_split <= tau <= 1")


def overlap_table(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Customers shared by each (old segment, new segment) pair.

    ``previous``/``current``: columns ``customer_id``, ``segment_id``. Returns
    ``from_segment, to_segment, shared, from_size, to_size, share_of_old,
    share_of_new`` for pairs of real segments (noise excluded on both sides).
    """
    old = previous[previous["segment_id"] != NOISE][["customer_id", "segment_id"]]
    new = current[current["segment_id"] != NOISE][["customer_id", "segment_id"]]
    joined = old.merge(new, on="customer_id", suffixes=("_old", "_new"))
    pairs = (
        joined.groupby(["segment_id_old", "segment_id_new"]).size().rename("shared").reset_index()
        .rename(columns={"segment_id_old": "from_segment", "segment_id_new": "to_segment"})
    )
    pairs["from_size"] = pairs["from_segment"].map(old["segment_id"].value_counts())
    pairs["to_size"] = pairs["to_segment"].map(new["segment_id"].value_counts())
    pairs["share_of_old"] = pairs["shared"] / pairs["from_size"]
    pairs["share_of_new"] = pairs["shared"] / pairs["to_size"]
    return pairs.sort_values(["from_segment", "shared"], ascending=[True, False]).reset_index(drop=True)


def monic_transitions(
    previous: pd.DataFrame, current: pd.DataFrame, thresholds: Thresholds = Thresholds()
) -> pd.DataFrame:
    """Transitions by member overlap alone (MONIC, Spiliopoulou et al. 2006): the baseline.

    Columns: ``from_segment`` (NaN for emerged), ``to_segment`` (NaN for
    disappeared), ``kind``, ``overlap`` (share of the old segment for
    survived/split/merged/disappeared links; for emerged, the largest share of
    the new segment that any old segment contributes).
    """
    tau, tau_split = thresholds.tau, thresholds.tau_split
    pairs = overlap_table(previous, current)
    old_ids = sorted(set(previous["segment_id"]) - {NOISE})
    new_ids = sorted(set(current["segment_id"]) - {NOISE})

    best_of_old = pairs.loc[pairs.groupby("from_segment")["shared"].idxmax()].set_index("from_segment") \
        if not pairs.empty else pd.DataFrame()
    survival_links: dict[int, list[int]] = {n: [] for n in new_ids}  # new -> old parents
    split_children: dict[int, list[int]] = {}  # old -> new parts
    for o in old_ids:
        mine = pairs[pairs["from_segment"] == o]
        parts = mine[mine["share_of_old"] >= tau_split]
        if len(parts) >= 2 and parts["share_of_old"].sum() >= tau:
            split_children[o] = parts["to_segment"].tolist()
            continue
        if o in best_of_old.index:
            best = best_of_old.loc[o]
            if best["share_of_old"] >= tau or best["share_of_new"] >= tau:
                survival_links[int(best["to_segment"])].append(o)

    rows: list[dict[str, Any]] = []
    linked_old: set[int] = set()
    for n in new_ids:
        parents = survival_links[n]
        split_parents = [o for o, children in split_children.items() if n in children]
        share = pairs[pairs["to_segment"] == n].set_index("from_segment")
        if len(parents) >= 2:
            kind, links = "merged", parents
        elif split_parents:
            kind, links = "split", split_parents
        elif len(parents) == 1:
            kind, links = "survived", parents
        elif share.empty or share["share_of_new"].max() < tau_split:
            top = float(share["share_of_new"].max()) if not share.empty else 0.0
            rows.append({"from_segment": np.nan, "to_segment": n, "kind": "emerged", "overlap": top})
            continue
        else:
            # Mostly made of part of an old segment that survived elsewhere: a split-off.
            kind, links = "split", [int(share["share_of_new"].idxmax())]
        for o in links:
            linked_old.add(o)
            rows.append({
                "from_segment": o, "to_segment": n, "kind": kind,
                "overlap": float(share.loc[o, "share_of_old"]) if o in share.index else 0.0,
            })
    for o in old_ids:
        if o not in linked_old:
            rows.append({"from_segment": o, "to_segment": np.nan, "kind": "disappeared", "overlap": 0.0})
    frame = pd.DataFrame(rows, columns=["from_segment", "to_segment", "kind", "overlap"])
    return frame.astype({"from_segment": "Int64", "to_segment": "Int64"})


def match_segments(
    previous: pd.DataFrame, current: pd.DataFrame, thresholds: Thresholds = Thresholds(),
    lifts: tuple[pd.DataFrame, pd.DataFrame] | None = None, unlike: float = UNLIKE,
    behaviour_shift: Callable[[Sequence[str]], float] | None = None, checks: list[dict] | None = None,
    started_with: Callable[[int], pd.Index | None] | None = None, forming: set[int] | None = None,
) -> pd.DataFrame:
    """Transitions between two snapshots by membership and behaviour (see the module docstring).

    ``previous``/``current``: ``customer_id, segment_id``; ``lifts``: the lift profiles
    (segment × feature) of the old and the new segments. Without ``lifts`` this is
    :func:`monic_transitions`. ``behaviour_shift(customer_ids)`` (None: not checked) says how far
    those customers' own behaviour moved since the old segments' models were fitted
    (:func:`segmentation.engine.resemblance.group_shift` against a window no later than the
    fitting snapshot's: :func:`segmentation.workflows.reuse.reference_window`). Each such check
    is appended to ``checks``
    (``segment_id``, ``from_segment``, ``customers``, ``behaviour_shift``, ``new``). ``started_with(old_id)``
    (None: not checked) gives the customers of that old segment's lineage where it began (None: unknown);
    a part shed beside the old segment's heir is then **emerged**, not split, when most (``tau``) of its
    customers from the old segment came to it since it began (each such check goes to ``checks`` with
    ``joined_since_start``). ``forming``: old segments not announced yet (their lineage still
    forming, :func:`segmentation.dynamics.tracking.hold_back`); a part shed beside another segment's
    heir does not continue one of those (it ends there, and the shed part stays a split). Columns: ``from_segment`` (NA for emerged),
    ``to_segment`` (NA for disappeared), ``kind``, ``overlap`` (share of the old segment
    in the new one; for emerged, the largest share of the new segment any old one gives).
    """
    if lifts is None:
        return monic_transitions(previous, current, thresholds)
    tau, tau_split = thresholds.tau, thresholds.tau_split
    old_ids = sorted(int(s) for s in set(previous["segment_id"]) - {NOISE})
    new_ids = sorted(int(s) for s in set(current["segment_id"]) - {NOISE})
    pairs = overlap_table(previous, current)
    shared = (pairs.pivot_table(index="from_segment", columns="to_segment", values="shared", fill_value=0)
              .reindex(index=old_ids, columns=new_ids, fill_value=0).astype(float))
    old_size = previous[previous["segment_id"] != NOISE]["segment_id"].value_counts().reindex(old_ids)
    new_size = current[current["segment_id"] != NOISE]["segment_id"].value_counts().reindex(new_ids)
    of_old = shared.div(old_size.clip(lower=1), axis=0)
    of_new = shared.div(new_size.clip(lower=1), axis=1)
    # share of the old segment's customers who are still here (in this snapshot, noise included)
    still_here = previous[(previous["segment_id"] != NOISE) & previous["customer_id"].isin(current["customer_id"])]
    of_here = shared.div(still_here["segment_id"].value_counts().reindex(old_ids).fillna(0).clip(lower=1), axis=0)
    old_lifts = lifts[0].reindex(old_ids).fillna(0.0)
    new_lifts = lifts[1].reindex(new_ids).fillna(0.0)
    distance = profile_distance(old_lifts, new_lifts)

    rows: list[dict[str, Any]] = []

    def link(o, n, kind: str) -> None:
        rows.append({"from_segment": o, "to_segment": n, "kind": kind,
                     "overlap": float(of_old.at[o, n]) if o is not None and n is not None else 0.0})

    def emerge(n: int) -> None:  # overlap: the largest share of ``n`` any old segment gave
        rows.append({"from_segment": None, "to_segment": n, "kind": "emerged",
                     "overlap": float(of_new[n].max()) if old_ids else 0.0})

    def given(o: int, n: int) -> pd.Series:
        """The customers old segment ``o`` gave new segment ``n``."""
        members = previous.loc[previous["segment_id"] == o, "customer_id"]
        return current.loc[(current["segment_id"] == n) & current["customer_id"].isin(members), "customer_id"]

    def known_behaviour(n: int) -> int | None:
        """The old segment whose customers, unchanged, make up most of ``n`` (None: new behaviour)."""
        if behaviour_shift is None or not old_ids:
            return None
        o = main_source(n)
        return None if o is None or shifted(o, n) is not False else o

    def main_source(n: int) -> int | None:
        """The old segment that gave ``n`` most (``tau``) of its customers (None: none did)."""
        o = int(of_new[n].idxmax())
        return o if of_new.at[o, n] >= tau else None

    judged: dict[tuple[int, int], bool | None] = {}

    def shifted(o: int, n: int) -> bool | None:
        """Whether the customers ``o`` gave ``n`` changed their behaviour (None: nobody to compare)."""
        if (o, n) not in judged:
            judged[(o, n)] = _shifted(o, n)
        return judged[(o, n)]

    def _shifted(o: int, n: int) -> bool | None:
        members = given(o, n)
        shift = float(behaviour_shift(members.tolist()))
        new = not shift <= SHIFTED  # NaN (nobody to compare) counts as new
        if checks is not None:
            checks.append({"segment_id": int(n), "from_segment": o, "customers": int(len(members)),
                           "behaviour_shift": None if np.isnan(shift) else round(shift, 3), "new": bool(new)})
        return None if np.isnan(shift) else new

    def formed_inside(o: int, n: int) -> bool:
        """Whether most (``tau``) of the customers ``o`` gave ``n`` came to ``o`` since its lineage began:
        a behaviour that formed inside the segment (sign-ups, converts), which an earlier fit lumped
        with it, not a part of what it held from the start."""
        start = started_with(o) if started_with is not None else None
        if start is None:
            return False
        members = given(o, n)
        if members.empty:
            return False
        joined = float(1.0 - members.astype(str).isin(start).mean())
        if checks is not None:
            checks.append({"segment_id": int(n), "from_segment": o, "customers": int(len(members)),
                           "joined_since_start": round(joined, 3), "new": joined >= tau})
        return joined >= tau

    parent: dict[int, int] = {}
    unlike_all: list[int] = []  # new segments unlike every old one (emerged, unless a split below)
    revealed: set[int] = set()  # parts of an old segment told apart by this fit (split-offs, never co-equal children)
    for n in new_ids:
        d = distance[n] if old_ids else pd.Series(dtype=float)
        # a new segment holding most of an old one's customers continues it, however much its
        # profile sharpened (a young segment grows purer as it grows)
        same = [o for o in old_ids if of_old.at[o, n] >= SAME_CUSTOMERS]
        if (d.empty or d.min() > unlike) and not same:
            known = known_behaviour(n)
            if known is None:
                unlike_all.append(n)
            else:
                parent[n] = known
                revealed.add(n)
            continue
        alike = d.index[(d <= unlike) | d.index.isin(same)]
        mine = shared.loc[alike, n]
        parent[n] = int(mine.idxmax()) if mine.max() > 0 else int(d.idxmin())
    # An old segment that nothing continues, whose customers went two ways into new behaviours
    # (each part mostly its customers, together most of it): it split, its parts changed.
    for o in old_ids:
        if o in parent.values():
            continue
        parts = [n for n in unlike_all if of_new.at[o, n] >= tau and of_old.at[o, n] >= tau_split]
        if len(parts) >= 2 and of_old.loc[o, parts].sum() >= tau:
            parent.update({n: o for n in parts})
            continue
        # its customers took up new behaviour together (a fading persona's last customers, an abrupt
        # drift): the same segment, changed; not a new one beside a disappearance. Judged on the
        # customers still here: those who left went nowhere (a fading segment loses most of them).
        together = [n for n in unlike_all if of_new.at[o, n] >= tau and of_here.at[o, n] >= tau_split]
        if len(together) == 1 and not any(of_here.at[o, n] >= tau_split for n in new_ids if n != together[0]):
            parent[together[0]] = o
    # A new behaviour made mostly of one old segment's customers, a part of it (tau_split), beside
    # that segment's heir whose customers changed too: the old behaviour is gone both ways, the
    # segment split (a behaviour forming inside a segment leaves the heir's customers as they were).
    parted: set[int] = set()
    for n in unlike_all:
        if n in parent or behaviour_shift is None or not old_ids:
            continue
        o = main_source(n)
        kids = [k for k, p in parent.items() if p == o and k not in revealed]
        if o is None or of_old.at[o, n] < tau_split or not kids:
            continue
        heir = max(kids, key=lambda k: shared.at[o, k])
        if of_old.at[o, heir] >= tau_split and shifted(o, heir):
            parent[n] = o
            parted.add(o)
    # An old segment still without any successor and a new one still unexplained, made mostly (tau) of
    # customers who were here before, that hold a part (tau_split) of each other on both sides (of the
    # old one: of its customers still here): the refit drew the same group again, with another edge and
    # so another profile (a small group at the edge of the density, such as a value tier drawn across
    # personas). It survives, shifted; neither a disappearance nor an emergence. Pairs are taken by
    # customers shared, largest first.
    were_here = current[current["customer_id"].isin(previous["customer_id"])]["segment_id"].value_counts()
    known = (were_here.reindex(new_ids).fillna(0) / new_size.clip(lower=1)) >= tau
    pairs_left = [(shared.at[o, n], o, n) for o in old_ids for n in unlike_all if n not in parent and known[n]
                  and of_here.at[o, n] >= tau_split and of_new.at[o, n] >= tau_split]
    for _, o, n in sorted(pairs_left, reverse=True):
        if n not in parent and o not in parent.values():
            parent[n] = o
    for n in unlike_all:
        if n not in parent:
            emerge(n)
    heirs: dict[int, int] = {}
    for o in old_ids:
        kids = [n for n, p in parent.items() if p == o]
        big = [n for n in kids if of_old.at[o, n] >= tau_split and n not in revealed]
        # a child holding most of the old segment's customers continues it (MONIC's match comes
        # before its split): the others are parts it shed, not co-equal children
        majority = [n for n in big if of_old.at[o, n] > tau]
        if o in parted or (len(big) >= 2 and of_old.loc[o, big].sum() >= tau and not majority):
            for n in kids:
                link(o, n, "split")
        elif kids:
            heir = max(kids, key=lambda n: (n not in revealed, shared.at[o, n], -distance.at[o, n]))
            heirs[o] = heir
            for n in kids:
                if n != heir and formed_inside(o, n):
                    emerge(n)
                else:
                    link(o, n, "survived" if n == heir else "split")
    survivors = {n: o for o, n in heirs.items()}
    if behaviour_shift is not None:
        # An old segment whose heir keeps less than tau of it, while at least tau of its customers went
        # into another old segment's survivor, both sides having changed their behaviour: most of it
        # merged there (a behaviour it held converged with another), and the heir is what it left behind.
        for o, heir in heirs.items():
            if of_old.at[o, heir] >= tau:
                continue
            into = [n for n, p in survivors.items() if p != o and of_old.at[o, n] >= tau]
            for n in into:
                if shifted(o, n) is True and shifted(survivors[n], n) is True:
                    link(o, n, "merged")
                    for r in rows:  # the survivor's own link becomes part of the merge
                        if r["to_segment"] == n and r["kind"] == "survived":
                            r["kind"] = "merged"
                    break
    for o in old_ids:
        if any(r["from_segment"] == o for r in rows):
            continue
        carrier = None if o in (forming or set()) else _shed_part_carrying(o, of_old, rows, heirs)
        if carrier is not None:
            # most of it is a part another segment shed beside its heir: that part continues this
            # segment, grown by what it took from the other (which goes on in its heir)
            rows[:] = [r for r in rows if not (r["to_segment"] == carrier and r["kind"] == "split")]
            link(o, carrier, "survived")
            survivors[carrier] = o
            continue
        into = [n for n in survivors if of_old.at[o, n] >= tau]
        if into:
            n = max(into, key=lambda n: of_old.at[o, n])
            link(o, n, "merged")
            for r in rows:  # the survivor's own link becomes part of the merge
                if r["to_segment"] == n and r["kind"] == "survived":
                    r["kind"] = "merged"
        else:
            link(o, None, "disappeared")
    frame = pd.DataFrame(rows, columns=TRANSITION_FRAME)
    frame = frame.sort_values(["to_segment", "from_segment"], na_position="last").reset_index(drop=True)
    return frame.astype({"from_segment": "Int64", "to_segment": "Int64"})


def _shed_part_carrying(o: int, of_old: pd.DataFrame, rows: list[dict], heirs: dict[int, int]) -> int | None:
    """The new segment holding most (``SAME_CUSTOMERS``) of old segment ``o``'s customers when it is
    only a part another old segment shed beside its heir (a ``split`` link from a segment that goes
    on); None otherwise. A small segment that a refit draws again with more of its neighbour's
    customers (its edge moved into the neighbour) is then that segment, not a split-off of the
    neighbour beside a disappearance. A co-equal split (no heir) is left as it is."""
    if of_old.empty or o not in of_old.index:
        return None
    n = int(of_old.loc[o].idxmax())
    if of_old.at[o, n] < SAME_CUSTOMERS:
        return None
    links = [r for r in rows if r["to_segment"] == n]
    return n if links and all(r["kind"] == "split" and r["from_segment"] in heirs
                              and heirs[r["from_segment"]] != n for r in links) else None
