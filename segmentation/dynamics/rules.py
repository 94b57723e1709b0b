"""Rules for a segment: a few readable conditions a rule-based CDP can rebuild, with their fidelity.

A segment found by the engine lives in a learned space; a marketer's tools (Segment, Braze,
Klaviyo, a SQL warehouse) select audiences with thresholds on plain columns. For each segment a
shallow surrogate decision tree (scikit-learn, one segment against everyone else) is grown on the
feature table, as in explainable clustering (IMM, ExKMC): its leaves that predict the segment are
rules of at most :data:`MAX_CONDITIONS` conditions, of which at most :data:`MAX_RULES` are kept,
chosen greedily for the F1 of their union. Thresholds are rounded for people (shares and rates to
whole per cent, counts and days to whole numbers, money to two significant digits) *before* the
fidelity is measured, so the precision and recall shown are those of the rule as written, and the
SQL ``WHERE`` clause selects exactly the customers the text describes.

Pure frames in, dictionaries out: no database, no streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.tree import DecisionTreeClassifier

__all__ = ["Condition", "segment_rules", "rules_for_run", "one_feature_rule", "tree_fidelity",
           "display_kinds", "MAX_CONDITIONS", "MAX_RULES", "RULES_SAMPLE"]

MAX_CONDITIONS = 3   # per rule (the tree's depth)
MAX_RULES = 3        # per segment
# Tree variants tried per segment; the one whose rounded rules have the best F1 wins.
_VARIANTS = ({"class_weight": None}, {"class_weight": "balanced"})
_MIN_LEAF_SHARE = 0.002  # a leaf holds at least 0.2 % of customers (and at least 5)
MIN_GAIN = 0.01         # a further rule must raise the F1 of the union by this much
# Beyond this many customers the trees are grown, and the rules chosen, on a seeded sample of them
# (a depth-3 tree on a million customers takes tens of seconds per segment); the fidelity shown is
# still measured on every customer. As many as the models are fitted on by default.
RULES_SAMPLE = 50_000


@dataclass(frozen=True)
class Condition:
    """``feature op threshold`` with ``op`` one of ``<=`` and ``>``, the threshold already rounded."""

    feature: str
    op: str
    threshold: float

    def sql(self) -> str:
        return f'"{self.feature}" {self.op} {self.threshold!r}'

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.feature].to_numpy(np.float64)
        return values <= self.threshold if self.op == "<=" else values > self.threshold


def display_kinds(frame: pd.DataFrame, catalog) -> dict[str, str]:
    """How each column is rounded and written: ``percent`` (shares, and rates within 0–1),
    ``integer`` (counts and days), ``money`` or ``number``."""
    out = {}
    for feature in catalog:
        if feature.name not in frame.columns:
            continue
        if feature.kind in ("share", "rate") and float(frame[feature.name].max()) <= 1.0:
            out[feature.name] = "percent"
        elif feature.kind in ("count", "days"):
            out[feature.name] = "integer"
        else:
            out[feature.name] = "money" if feature.kind == "money" else "number"
    return out


def _round_threshold(value: float, kind: str) -> float:
    """A threshold people can read. On whole numbers ``x <= 4.5`` is ``x <= 4`` and ``x > 4.5`` is
    ``x > 4``; per cents are whole; money and other numbers keep two significant digits."""
    if kind == "integer":
        return float(math.floor(value))
    if kind == "percent":
        return round(value, 2)
    if value == 0:
        return 0.0
    return round(value, 1 - int(math.floor(math.log10(abs(value)))))


def _number(value: float, kind: str) -> str:
    if kind == "percent":
        return f"{value * 100:.0f} %"
    if kind == "integer":
        return f"{value:.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"


def condition_text(condition: Condition, label: str, kind: str) -> str:
    """``"social media activity more than 30 %"`` or ``"… at most 30 %"``, in the words of a range (below); on
    whole numbers ``> 4`` reads ``at least 5``."""
    if kind == "integer" and condition.op == ">":
        return f"{label} at least {_number(condition.threshold + 1, kind)}"
    words = "at most" if condition.op == "<=" else "more than"
    return f"{label} {words} {_number(condition.threshold, kind)}"


def rule_text(rule: list[Condition], kinds: dict[str, str], labels: dict[str, str]) -> str:
    """The conditions joined by "and"; two bounds on one feature read "from 3 to 5" (whole numbers) or
    "more than 50 % and at most 60 %" (what the SQL selects; "above 50 % to 60 %" read as garbled)."""
    parts, done = [], set()
    for c in rule:
        if c.feature in done:
            continue
        pair = [d for d in rule if d.feature == c.feature]
        label, kind = labels.get(c.feature, c.feature), kinds.get(c.feature, "number")
        if len(pair) == 2:
            low = next(d for d in pair if d.op == ">")
            high = next(d for d in pair if d.op == "<=")
            if kind == "integer":
                parts.append(f"{label} from {_number(low.threshold + 1, kind)} to {_number(high.threshold, kind)}")
            else:
                parts.append(f"{label} more than {_number(low.threshold, kind)} and at most "
                             f"{_number(high.threshold, kind)}")
        else:
            parts.append(condition_text(c, label, kind))
        done.add(c.feature)
    return " and ".join(parts)


def _leaf_paths(tree: DecisionTreeClassifier, columns: list[str], kinds: dict[str, str]) -> list[list[Condition]]:
    """Rounded, simplified conditions of every leaf that predicts the segment (class 1)."""
    t = tree.tree_
    paths: list[list[Condition]] = []

    def positive(node: int) -> bool:  # every leaf below predicts the segment
        if t.children_left[node] == -1:
            counts = t.value[node][0]
            return len(counts) > 1 and counts[1] > counts[0]
        return positive(t.children_left[node]) and positive(t.children_right[node])

    def walk(node: int, path: list[Condition]) -> None:
        if positive(node):  # sibling leaves that both say "member" are one rule, not two
            paths.append(_simplify(path))
            return
        if t.children_left[node] == -1:
            return
        name = columns[t.feature[node]]
        threshold = _round_threshold(float(t.threshold[node]), kinds.get(name, "number"))
        for op, child in (("<=", t.children_left[node]), (">", t.children_right[node])):
            walk(child, path + [Condition(name, op, threshold)])

    walk(0, [])
    return [p for p in paths if p]


def _simplify(path: list[Condition]) -> list[Condition]:
    """One bound per feature and side: ``x > 0.2 and x > 0.3`` is ``x > 0.3``."""
    best: dict[tuple[str, str], Condition] = {}
    for c in path:
        key = (c.feature, c.op)
        if key not in best or (c.op == ">" and c.threshold > best[key].threshold) \
                or (c.op == "<=" and c.threshold < best[key].threshold):
            best[key] = c
    return list(best.values())


def _mask(rule: list[Condition], frame: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for condition in rule:
        mask &= condition.holds(frame)
    return mask


def _scores(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    precision, recall, f1, _ = precision_recall_fscore_support(y, predicted, average="binary", zero_division=0)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def _greedy_union(candidates: list[list[Condition]], frame: pd.DataFrame, y: np.ndarray) -> list[list[Condition]]:
    masks = [_mask(rule, frame) for rule in candidates]
    chosen: list[int] = []
    union = np.zeros(len(frame), dtype=bool)
    best_f1 = 0.0
    while len(chosen) < MAX_RULES:
        gains = [(f1_score(y, union | m, zero_division=0), i) for i, m in enumerate(masks) if i not in chosen]
        if not gains:
            break
        f1, i = max(gains)
        if f1 <= best_f1 + MIN_GAIN:
            break
        chosen.append(i)
        union |= masks[i]
        best_f1 = f1
    return [candidates[i] for i in chosen]


def segment_rules(frame: pd.DataFrame, member: np.ndarray, kinds: dict[str, str], labels: dict[str, str],
                  random_state: int = 0) -> dict:
    """Rules that describe the customers with ``member`` True among the rows of ``frame``.

    ``kinds`` (from :func:`display_kinds`) says how each column's thresholds are rounded and written;
    ``labels`` are the catalog's words for the columns.

    Returns ``{"rules": [{text, sql, precision, recall}], "sql", "text", "fidelity": {precision,
    recall, f1}}``; fidelity is that of the whole clause (the rules joined by OR) on ``frame``.
    On more than :data:`RULES_SAMPLE` rows the trees are grown and the rules chosen on a sample of
    them (seeded by ``random_state``); precision, recall and fidelity are still those on every row.
    """
    y = np.asarray(member, dtype=bool)
    columns = list(frame.columns)
    grow, grow_y = frame, y
    if len(frame) > RULES_SAMPLE:  # grown and chosen on a sample, measured on everyone (below)
        rows = np.sort(np.random.default_rng(random_state).choice(len(frame), RULES_SAMPLE, replace=False))
        grow, grow_y = frame.iloc[rows], y[rows]
    min_leaf = max(5, int(_MIN_LEAF_SHARE * len(grow)))
    best: tuple[float, list[list[Condition]]] = (-1.0, [])
    if grow_y.any() and not grow_y.all():
        values = grow.to_numpy(np.float64)
        for variant in _VARIANTS:
            tree = DecisionTreeClassifier(max_depth=MAX_CONDITIONS, min_samples_leaf=min_leaf,
                                          random_state=random_state, **variant)
            tree.fit(values, grow_y)
            chosen = _greedy_union(_leaf_paths(tree, columns, kinds), grow, grow_y)
            union = np.zeros(len(grow), dtype=bool)
            for rule in chosen:
                union |= _mask(rule, grow)
            f1 = f1_score(grow_y, union, zero_division=0) if chosen else 0.0
            if f1 > best[0]:
                best = (f1, chosen)
    rules = []
    union = np.zeros(len(frame), dtype=bool)
    for rule in best[1]:
        mask = _mask(rule, frame)
        union |= mask
        rule = sorted(rule, key=lambda c: (columns.index(c.feature), c.op))
        rules.append({
            "text": rule_text(rule, kinds, labels),
            "sql": " AND ".join(c.sql() for c in rule),
            "conditions": [{"feature": c.feature, "op": c.op, "threshold": c.threshold} for c in rule],
            **{k: v for k, v in _scores(y, mask).items() if k != "f1"},
        })
    clause = " OR ".join(f"({r['sql']})" for r in rules) if rules else "FALSE"
    text = " — or — ".join(r["text"] for r in rules) if rules else "no short rule describes this segment"
    return {"rules": rules, "sql": clause, "text": text, "fidelity": _scores(y, union)}


def rules_for_run(frame: pd.DataFrame, labels_by_customer: pd.Series, catalog, noise: int = -1) -> dict[int, dict]:
    """:func:`segment_rules` for every non-noise segment; ``labels_by_customer`` is indexed like ``frame``
    (customers missing from it count as noise)."""
    kinds = display_kinds(frame, catalog)
    words = {f.name: f.label for f in catalog}
    segment_of = labels_by_customer.reindex(frame.index).fillna(noise).astype(int).to_numpy()
    return {int(s): segment_rules(frame, segment_of == s, kinds, words)
            for s in np.unique(segment_of) if s != noise}


def one_feature_rule(frame: pd.DataFrame, member: np.ndarray, evaluate: pd.DataFrame | None = None,
                     evaluate_member: np.ndarray | None = None) -> dict[str, float]:
    """The floor: the best single threshold on a single feature (a depth-1 tree)."""
    stump = DecisionTreeClassifier(max_depth=1, class_weight="balanced", random_state=0)
    stump.fit(frame.to_numpy(np.float64), member)
    target = frame if evaluate is None else evaluate
    truth = member if evaluate_member is None else evaluate_member
    return _scores(np.asarray(truth, bool), stump.predict(target.to_numpy(np.float64)).astype(bool))


def tree_fidelity(frame: pd.DataFrame, member: np.ndarray, evaluate: pd.DataFrame, evaluate_member: np.ndarray,
                  max_depth: int | None = None) -> dict[str, float]:
    """The upper bound: a depth-unlimited tree fitted on ``frame``, scored on ``evaluate``."""
    tree = DecisionTreeClassifier(max_depth=max_depth, random_state=0).fit(frame.to_numpy(np.float64), member)
    return _scores(np.asarray(evaluate_member, bool), tree.predict(evaluate.to_numpy(np.float64)).astype(bool))
