"""Audience exports: plan (read and check everything), then write (file + audit row + deltas).

``plan_export`` reads a run's segment members with their contact data and consent,
applies the guards (consent, noise, membership probability, usable identifiers,
platform minimum size, sensitive segment names) and formats the rows exactly as
they would be written, without writing anything. ``write_export`` then writes
the file atomically together with its audit row, and, when the same lineage was
exported to the same platform before, the adds and removes files (a delta) so an
audience can be updated instead of replaced.

Formats per platform live in :mod:`segmentation.audiences.formats`, the normalisation rules in
:mod:`segmentation.audiences.normalise`.
PII never goes to logs or messages: only counts, ids and segment names do.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from segmentation.audiences import read as export_read
from segmentation.data import results, store
from segmentation.errors import InputError
from segmentation.audiences.formats import MIN_AUDIENCE_SIZE, PLATFORMS, PlatformSpec, format_rows, neutralise_formula
from segmentation.audiences.normalise import hash_or_none, letters_only, meta_zip, normalise_country, normalise_email, normalise_email_tiktok, normalise_name, normalise_phone, normalise_zip, phone_digits, sha256_hex
from segmentation.audiences.write import (DOWNLOADED_AS, ExportResult, StalePlan, delta_paths, list_exports,
                                          record_download, write_export)
from segmentation.data.queries import load_query

__all__ = [
    "PLATFORMS", "PlatformSpec", "MIN_AUDIENCE_SIZE", "EXCLUSION_REASONS", "EXCLUSION_WORDS", "ExportPlan",
    "ExportResult", "StalePlan", "plan_export", "write_export", "record_download", "DOWNLOADED_AS", "list_exports",
    "delta_paths", "sensitive_terms",
    "safe_export_path",
    "normalise_email", "normalise_email_tiktok", "normalise_phone", "phone_digits",
    "normalise_country", "normalise_name", "letters_only", "normalise_zip", "meta_zip",
    "sha256_hex", "hash_or_none", "neutralise_formula",
]

# Why a segment member is left out, in the order they are checked (the first that applies counts).
EXCLUSION_REASONS = ("noise", "consent_false", "consent_unknown", "low_probability", "no_identifier")
#: Each reason in words, as the messages (and the app) say it.
EXCLUSION_WORDS = {
    "noise": "in no segment (noise)", "consent_false": "no ad consent", "consent_unknown": "consent unknown",
    "low_probability": "below the membership threshold", "no_identifier": "no usable e-mail, phone or name",
}

# Words in a segment's name or description that suggest health or financial status: Meta
# flags such custom audiences (since 2 Sep 2025) and Google's personalised-ads policy restricts them.
_SENSITIVE = {
    "health": r"health|diabet|arthrit|cancer|oncolog|pregnan|fertil|medic|pharma|prescription|"
              r"illness|disease|disorder|depress|anxiety|mental|therap|weight[- ]?loss|obes|hiv\b|"
              r"allerg|disab|addict|rehab|chronic|patient|clinic|symptom|sick",
    "financial": r"credit[- ]?score|debt|loan|income|wealth|affluent|bankrupt|mortgage|salary|"
                 r"net[- ]?worth|payday|insolv|poverty|poor\b|rich\b|broke\b|overdra|in[- ]?debt",
}
_SENSITIVE_PATTERNS = {kind: re.compile(rf"\b(?:{words})", re.IGNORECASE) for kind, words in _SENSITIVE.items()}


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
MAX_FILENAME_BYTES = 200


def safe_export_path(folder: str | os.PathLike, filename: str) -> Path:
    """``folder / filename`` for a file name typed in the app, refused unless it stays in ``folder``.

    The name must be a plain file name: no folders (``/``, ``\\``), no ``..``, not
    absolute, not hidden (leading ``.``: temporary files use those), no control or
    reserved characters, at most 200 bytes. A name without a suffix gets ``.csv``;
    another suffix than ``.csv`` is refused. The resolved path (symbolic links
    followed) must lie inside the resolved ``folder``. Raises :class:`InputError`
    with the reason.
    """
    name = (filename or "").strip()
    if not name:
        raise InputError("give the export file a name, e.g. meta_run3_segment2.csv")
    if _UNSAFE_NAME.search(name) or name in (".", "..") or name.startswith("."):
        raise InputError(f"{name!r} is not a plain file name: use letters, digits, spaces, '-', '_' and '.', "
                         "no folders, no leading '.'")
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        raise InputError(f"the file name is too long ({len(name.encode('utf-8'))} bytes; at most {MAX_FILENAME_BYTES})")
    suffix = Path(name).suffix.lower()
    if not suffix:
        name += ".csv"
    elif suffix != ".csv":
        raise InputError(f"{name!r}: export files are CSV; end the name in .csv")
    root = Path(folder).expanduser().resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise InputError(f"{name!r} would be written outside the export folder {root}")
    return path


def sensitive_terms(text: str | None) -> dict[str, list[str]]:
    """Words in ``text`` that suggest health or financial status, by kind (empty when none)."""
    found: dict[str, list[str]] = {}
    for kind, pattern in _SENSITIVE_PATTERNS.items():
        words = sorted({m.group(0).lower() for m in pattern.finditer(text or "")})
        if words:
            found[kind] = words
    return found


def _slug(name: Any, limit: int = 40) -> str:
    """``Weekend family shoppers, 2× more refunds`` → ``weekend-family-shoppers-2-more-refunds`` (ASCII)."""
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text if len(text) <= limit else text[:limit + 1].rsplit("-", 1)[0]  # whole words


@dataclass
class ExportPlan:
    """Everything an export would write, checked but not yet written.

    ``rows`` is the file exactly as it would be written (``to_bytes()`` gives its
    bytes); ``customer_ids`` are aligned with ``rows``. ``refusal`` says why the
    export cannot be written (``ok`` is then False); ``warnings`` are worth reading
    but do not stop it. ``adds`` / ``removes`` hold the delta against
    ``previous_export_id`` (None when this lineage was never exported to the platform).
    """

    platform: str
    run_id: int
    run_date: date
    segment_ids: list[int]
    segments: pd.DataFrame
    lineage_key: str
    rows: pd.DataFrame
    customer_ids: pd.Series
    n_candidates: int
    excluded: dict[str, int]
    warnings: list[str]
    refusal: str | None
    min_size: int
    options: dict[str, Any]
    previous_export_id: int | None = None
    adds: pd.DataFrame | None = None
    removes: pd.DataFrame | None = None
    removes_customer_ids: pd.Series | None = None
    removes_without_identifier: int = 0
    lookalikes: pd.DataFrame | None = None  # ranked lookalikes added as candidates (customer_id, rank, similarity)
    fingerprint: str = ""
    _bytes: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def spec(self) -> PlatformSpec:
        return PLATFORMS[self.platform]

    @property
    def n_rows(self) -> int:
        return int(len(self.rows))

    @property
    def n_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def has_delta(self) -> bool:
        return self.previous_export_id is not None

    @property
    def delta_files(self) -> bool:
        """Whether the delta needs its adds and removes files: not when the audience is the previous
        export's customers exactly (nothing to add, remove or count as unremovable)."""
        return self.has_delta and bool(len(self.adds) or len(self.removes) or self.removes_without_identifier)

    @property
    def filename(self) -> str:
        """A suggested file name from the platform, the segments' names and the snapshot date,
        e.g. ``google_weekend-family-shoppers_2025-06-30.csv`` (plain ASCII, safe on every system)."""
        names = [_slug(n) or f"segment-{s}" for s, n in zip(self.segments["segment_id"], self.segments["segment_name"])]
        audience = "+".join(names[:2]) + (f"+{len(names) - 2}-more" if len(names) > 2 else "")
        with_lookalikes = "_with-lookalikes" if self.lookalikes is not None and len(self.lookalikes) else ""
        return f"{self.platform}_{audience}{with_lookalikes}_{self.run_date:%Y-%m-%d}{self.spec.suffix}"

    def preview(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` rows of the file."""
        return self.rows.head(n).copy()

    def to_bytes(self, kind: str = "full") -> bytes:
        """The exact bytes of the file (``kind``: full, adds or removes): CSV, UTF-8 without BOM."""
        if kind not in self._bytes:
            frame = {"full": self.rows, "adds": self.adds, "removes": self.removes}[kind]
            if frame is None:
                raise ValueError(f"this plan has no {kind} file (no earlier export to compare with)")
            self._bytes[kind] = frame.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")
        return self._bytes[kind]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (no rows, no PII)."""
        return {
            "platform": self.platform, "run_id": self.run_id, "run_date": self.run_date,
            "segment_ids": self.segment_ids, "lineage_key": self.lineage_key,
            "n_candidates": self.n_candidates, "n_rows": self.n_rows, "n_excluded": self.n_excluded,
            "excluded": self.excluded, "min_size": self.min_size, "ok": self.ok,
            "refusal": self.refusal, "warnings": self.warnings, "options": self.options,
            "previous_export_id": self.previous_export_id,
            "n_adds": None if self.adds is None else int(len(self.adds)),
            "n_removes": None if self.removes is None else int(len(self.removes)),
            "removes_without_identifier": self.removes_without_identifier,
        }


def _lineage_key(run_id: int, segments: pd.DataFrame) -> str:
    parts = sorted(
        str(int(row.lineage_id)) if pd.notna(row.lineage_id) else f"run{run_id}/segment{int(row.segment_id)}"
        for row in segments.itertuples(index=False)
    )
    return "+".join(parts)


def _exclusion_reasons(candidates: pd.DataFrame, allow_unknown_consent: bool,
                       min_probability: float) -> pd.Series:
    reason = pd.Series([None] * len(candidates), index=candidates.index, dtype=object)

    def mark(mask: pd.Series, name: str) -> None:
        reason[mask.to_numpy(dtype=bool) & reason.isna().to_numpy()] = name

    if not len(candidates):
        return reason
    consent = candidates["consent_ads"].astype("boolean")
    mark(candidates["segment_id"] == -1, "noise")
    mark(consent.eq(False).fillna(False), "consent_false")
    if not allow_unknown_consent:
        mark(consent.isna(), "consent_unknown")
    if min_probability > 0:
        mark(candidates["probability"].astype(float).fillna(0.0) < min_probability, "low_probability")
    return reason


def _check_options(platform: str, segment_ids: Iterable[int] | int, min_probability: float,
                   min_size: int | None) -> list[int]:
    if platform not in PLATFORMS:
        raise InputError(f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}")
    ids = [int(segment_ids)] if isinstance(segment_ids, int) else [int(s) for s in segment_ids]
    if not ids:
        raise InputError("name at least one segment to export (--segment ID)")
    if len(set(ids)) != len(ids):
        raise InputError(f"segment ids are repeated: {ids}")
    if not 0.0 <= float(min_probability) <= 1.0:
        raise InputError(f"--min-probability must be between 0 and 1 (got {min_probability})")
    if min_size is not None and int(min_size) < 1:
        raise InputError(f"the minimum audience size must be at least 1 (got {min_size})")
    return ids


def _warnings(plan_segments: pd.DataFrame, platform: str, candidates: pd.DataFrame,
              reasons: pd.Series, include_pii: bool, allow_unknown_consent: bool) -> list[str]:
    spec = PLATFORMS[platform]
    notes = []
    for seg in plan_segments.itertuples(index=False):
        text = " ".join(str(t) for t in (seg.name, seg.suggested_name, seg.description) if isinstance(t, str))
        for kind, words in sensitive_terms(text).items():
            notes.append(
                f"segment {seg.segment_id} ({seg.segment_name!r}) has words suggesting {kind} status "
                f"({', '.join(words)}): Meta flags such audiences and will not let them run ads; "
                "Google's personalised-ads policy restricts them too. Rename it or check the policy."
            )
    if -1 in set(plan_segments["segment_id"]):
        notes.append("segment -1 is noise (customers no segment fits): its members are never exported")
    if len(candidates):
        no_record = int((~candidates["has_customer_record"].astype(bool)).sum())
        if no_record:
            notes.append(f"{no_record:,} members have no row in customers (no contact data, consent unknown)")
        if allow_unknown_consent:
            kept_unknown = int((candidates["consent_ads"].astype("boolean").isna() & reasons.isna()).sum())
            notes.append(f"{kept_unknown:,} customers with unknown ad consent are included "
                         "(--allow-unknown-consent): make sure your legal basis covers them")
    if include_pii and platform == "crm":
        notes.append("the file holds personal data in plain text (--include-pii): store and share it accordingly")
    elif include_pii and platform == "linkedin":
        notes.append("first and last names are written in plain text (LinkedIn takes no hashed names)")
    elif include_pii:
        notes.append(f"--include-pii changes nothing for {spec.label}: its identifiers are always hashed")
    return notes


def plan_export(
    db: Any,
    run_id: int,
    segment_ids: Iterable[int] | int,
    platform: str,
    *,
    min_probability: float = 0.0,
    allow_unknown_consent: bool = False,
    include_pii: bool = False,
    min_size: int | None = None,
    lookalike: int = 0,
    lookalikes: pd.DataFrame | None = None,
) -> ExportPlan:
    """Read and check an export without writing anything.

    ``db`` is a database path (None: the default) or an open DuckDB connection.
    Several segments of one run make one file (one audience; crm files carry a
    segment column). ``min_size`` overrides the platform minimum
    (:data:`MIN_AUDIENCE_SIZE`). Unknown runs/segments raise NotFoundError, bad
    options InputError; an audience that must not be written comes back with
    ``refusal`` set (and ``write_export`` refuses it).

    ``lookalikes`` (the ``lookalike`` = N closest ranked by
    :func:`segmentation.workflows.segment_actions.ranked_lookalikes`; one segment only) are added as
    candidates: every guard applies to them as to members, a
    lookalike's similarity stands in for the membership probability, and the audit row's options
    record how many were asked for and how many are in the file.
    """
    ids = _check_options(platform, segment_ids, min_probability, min_size)
    if (lookalikes is not None) != bool(lookalike):
        raise ValueError("give the ranked lookalikes together with their requested number (ranked_lookalikes)")
    spec = PLATFORMS[platform]
    minimum = int(min_size) if min_size is not None else spec.min_size
    with store.using(db, read_only=True) as con:
        run = results.get_run(con, run_id)
        run_date = pd.Timestamp(run["as_of"]).date()
        segments = export_read.segments(con, run_id, ids)
        candidates = export_read.candidates(con, run_id, run_date, segments, lookalikes)
        lineage_key = _lineage_key(run_id, segments) + ("+lookalike" if lookalikes is not None else "")
        previous_id = export_read.previous_export(con, platform, lineage_key)
        previous_members = (con.execute(load_query("export_members_select_of_export"), {"export_id": previous_id}).df()
                            if previous_id is not None else None)

    reasons = _exclusion_reasons(candidates, allow_unknown_consent, float(min_probability))
    kept = candidates[reasons.isna().to_numpy()] if len(candidates) else candidates
    if len(kept):
        rows, usable = format_rows(platform, kept, include_pii=include_pii)
    else:
        rows, usable = pd.DataFrame(columns=list(spec.headers)), pd.Series([], dtype=bool)
    keep = usable.to_numpy(dtype=bool)
    customer_ids = pd.Series(kept["customer_id"].to_numpy(dtype=object)[keep], dtype=object)
    rows = rows[keep].reset_index(drop=True)

    excluded = {reason: int((reasons == reason).sum()) for reason in EXCLUSION_REASONS}
    excluded["no_identifier"] = int((~usable).sum())
    refusal = None
    if set(ids) == {-1}:
        refusal = "segment -1 is noise (customers no segment fits) and is never exported"
    elif len(rows) < minimum:
        detail = ", ".join(f"{EXCLUSION_WORDS[k]} {v:,}" for k, v in excluded.items() if v)
        refusal = (f"audience too small for {spec.label}: {len(rows):,} customers left of "
                   f"{len(candidates):,}" + (f" (excluded: {detail})" if detail else "")
                   + f"; it needs at least {minimum:,}")
    warnings = _warnings(segments, platform, candidates, reasons, include_pii, allow_unknown_consent)
    if minimum < spec.min_size:
        warnings.append(f"the minimum size is lowered to {minimum:,}, below the {spec.label} minimum of "
                        f"{spec.min_size:,}: the platform will refuse or not serve a smaller audience")
    if refusal is None and spec.hashed and len(rows) < 3 * minimum:
        warnings.append(f"{len(rows):,} rows may match fewer than the {spec.label} minimum of {minimum:,} users: "
                        "platforms count matched users (often 30-70 % of rows), so the audience may be too small "
                        "to serve")

    plan = ExportPlan(
        platform=platform, run_id=int(run_id), run_date=run_date, segment_ids=ids,
        segments=segments[["segment_id", "lineage_id", "segment_name", "size", "transition"]].copy(),
        lineage_key=lineage_key, rows=rows, customer_ids=customer_ids, n_candidates=int(len(candidates)),
        excluded=excluded, warnings=warnings, refusal=refusal, min_size=minimum,
        options={"min_probability": float(min_probability), "allow_unknown_consent": bool(allow_unknown_consent),
                 "include_pii": bool(include_pii), "min_size": minimum,
                 **({"lookalike": {"requested": int(lookalike), "in_file": int(
                     kept["from_lookalike"].to_numpy(dtype=bool)[keep].sum())}} if lookalikes is not None else {})},
        lookalikes=lookalikes,
        previous_export_id=previous_id, fingerprint=export_read.fingerprint(candidates, previous_id),
    )
    if previous_members is not None:
        _add_delta(plan, candidates, previous_members)
    return plan


def _add_delta(plan: ExportPlan, candidates: pd.DataFrame, previous: pd.DataFrame) -> None:
    """Adds: in this file, not in the previous export. Removes: the reverse, written from the
    customers' current contact data (whatever their consent: removing is always allowed)."""
    before = set(previous["customer_id"])
    now = set(plan.customer_ids)
    plan.adds = plan.rows[~plan.customer_ids.isin(before).to_numpy()].reset_index(drop=True)
    gone = previous[~previous["customer_id"].isin(now)].reset_index(drop=True)
    if plan.platform == "crm":
        # crm rows carry segment columns: a one-segment export names the segment (lineage) left
        one = plan.segments.iloc[0] if len(plan.segments) == 1 else None
        gone = gone.assign(segment_id=None if one is None else int(one.segment_id),
                           lineage_id=None if one is None else one.lineage_id,
                           segment_name=None if one is None else one.segment_name,
                           probability=float("nan"), run_id=plan.run_id, run_date=plan.run_date)
    if len(gone):
        rows, usable = format_rows(plan.platform, gone, include_pii=plan.options["include_pii"])
        plan.removes = rows[usable.to_numpy()].reset_index(drop=True)
        plan.removes_customer_ids = gone["customer_id"][usable.to_numpy()].reset_index(drop=True)
        plan.removes_without_identifier = int((~usable).sum())
    else:
        plan.removes = pd.DataFrame(columns=plan.rows.columns)
        plan.removes_customer_ids = pd.Series([], dtype=object)

