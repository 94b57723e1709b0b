"""Export page: segments → an audience file for an ad platform or a CRM, checked before it is written.

Uses segmentation.audiences.export: ``plan_export`` reads and checks (consent, minimum
size, exclusions, warnings) without writing; ``write_export`` writes the file and
its audit row atomically; ``list_exports`` is the audit history. A download is an
export too: ``record_download`` records it (audit row, members) before the browser
receives it and keeps no copy on the server, so every file that leaves the workbench
has an audit row.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

from segmentation.audiences import export
from segmentation.data import read
from segmentation.present import plotting
from segmentation.present.digest import escape_markdown
from segmentation.errors import WorkbenchError
from segmentation.ui import common

# Files saved from the app stay in this folder (names are checked by export.safe_export_path).
EXPORT_DIR = Path(os.environ.get("SEGMENTATION_EXPORT_DIR", "exports"))
PREVIEW_ROWS = 5
DOWNLOAD_WAIT = 5.0  # seconds a rerun after a download click waits for the file's audit row
# Plain contact columns are never shown in the page, even when a CRM file carries them
# (compared in lower case without spaces and underscores).
PLAIN_CONTACT = {"email", "phone", "firstname", "lastname", "fn", "ln"}
# Platforms whose files may carry plain contact columns when asked (export_formats: crm, linkedin).
PII_PLATFORMS = ("crm", "linkedin")
# The export's own messages are shared with the command line; in the page they name the page's controls.
_IN_PAGE_WORDS = (
    ("(--allow-unknown-consent)", "(“Include customers whose ad consent is unknown” is ticked)"),
    ("(--include-pii)", "(“Plain contact columns” is ticked)"),
    ("--include-pii changes nothing", "“Plain contact columns” changes nothing"),
    ("choose another --out or pass --force to replace it", "choose another file name or tick “Replace the file if it exists”"),
    ("--out ", "the file name "),
)


def in_page_words(message: str) -> str:
    """An export message with the command line's options as the page's controls."""
    for option, words in _IN_PAGE_WORDS:
        message = message.replace(option, words)
    return message


def _fresh_plan(path: str, run_id: int, segment_ids: tuple, platform: str, min_probability: float,
                allow_unknown_consent: bool, include_pii: bool, lookalike: int = 0):
    """The export plan of the page's choices, read now."""
    from segmentation.workflows.segment_actions import ranked_lookalikes

    return export.plan_export(path, run_id, list(segment_ids), platform, min_probability=min_probability,
                              allow_unknown_consent=allow_unknown_consent, include_pii=include_pii,
                              lookalike=lookalike,
                              lookalikes=ranked_lookalikes(path, run_id, list(segment_ids), lookalike))


@st.cache_data(show_spinner="Checking the audience …", max_entries=8)
def _plan(path: str, version: float, *choices):
    """The export plan (cached per database version and the page's choices)."""
    return _fresh_plan(path, *choices)


@st.cache_data(show_spinner="Measuring lookalikes …", max_entries=8)
def _lookalike_quality(path: str, version: float, run_id: int, segment_id: int) -> dict:
    from segmentation.workflows.segment_actions import lookalike_members

    return lookalike_members(path, run_id, segment_id, size=0)[1]


def _expand(run_id: int, segment_id: int, size: int, stored: dict | None) -> int:
    """The Expand section: measured lookalike quality (``stored`` with the snapshot, else measured
    now) and how many to add (0 = none)."""
    st.subheader("Expand with lookalikes")
    path = common.current_db()
    try:
        quality = stored or _lookalike_quality(str(path), common.db_version(path), run_id, segment_id)
    except WorkbenchError as exc:
        common.show_error(exc)
        return 0
    left, right = st.columns([2, 3])
    with left:
        st.metric("Recall at the top 20 %", f"{quality['recall_at_20']:.2f}",
                  help="Held-out members (20 % of the segment, hidden from the ranking) found among the 20 % "
                       "most similar customers. A random ranking finds 0.20.")
        st.caption(f"Tested by hiding {quality['held_out']:,} of the segment's members: "
                   f"{quality['recall_at_20']:.0%} of them came out among the 20% of customers most like the "
                   f"segment (by chance: 20%; by likeness to its average customer alone: "
                   f"{quality['baseline_recall_at_20']:.0%}).")
        most = int(quality["candidates"] - quality["held_out"])  # the non-members
        # No min/max on the field: it would keep showing a typed -5 or 999999 while using its last valid value.
        added = st.number_input("Lookalikes to add", value=0, step=max(1, size // 10),
                                key=f"export_lookalike_{run_id}_{segment_id}",
                                help=f"The customers outside the segment who most resemble it (0 to {most:,}); "
                                     "every check below (consent, minimum size, hashing) applies to them too.")
        if not 0 <= added <= most:
            st.error(f"Lookalikes to add must be between 0 and {most:,}, not {int(added):,}: none are added.",
                     icon=":material/error:")
            added = 0
    with right:
        st.plotly_chart(plotting.lookalike_curve(quality["curve"]), key="lookalike_curve")
    return int(added)


def _preview(plan) -> tuple[pd.DataFrame, list[str]]:
    """The file's first rows as the page shows them (an empty cell blank, not "None"), and the plain contact
    columns the file fills (“Plain contact columns” ticked) that the page does not show."""
    rows = plan.preview(PREVIEW_ROWS)
    hidden = [c for c in rows.columns
              if c not in plan.spec.hashed_columns and re.sub(r"[\s_]", "", c).lower() in PLAIN_CONTACT]
    shown = rows.drop(columns=hidden)
    return shown.astype(object).where(shown.notna(), ""), hidden if plan.options.get("include_pii") else []


def preview_caption(plan, hidden: list[str]) -> str:
    """What the preview is: the first rows of the file, hashed as the platform asks, and which plain contact
    columns are in the file but not on the page."""
    caption = f"First {PREVIEW_ROWS} rows of `{plan.filename}`"
    notes = ["identifiers SHA-256 hashed as the platform asks"] if plan.spec.hashed else []
    if hidden:
        notes.append(f"the plain contact {'column' if len(hidden) == 1 else 'columns'} "
                     f"{', '.join(hidden)} {'is' if len(hidden) == 1 else 'are'} in the file, not shown here")
    return caption + (f" ({'; '.join(notes)})" if notes else "")


def _way_forward(plan) -> None:
    """What a marketer can do about an audience below the platform's minimum."""
    missing = plan.min_size - plan.n_rows
    ways = []
    if len(plan.segment_ids) == 1:
        ways.append("add lookalikes under **Expand with lookalikes** above (they pass the same checks)")
    ways.append("choose several segments for one audience")
    unknown = plan.excluded.get("consent_unknown", 0)
    if unknown:
        ways.append(f"include the {unknown:,} customers whose ad consent was never recorded (Options), only if "
                    "you have another lawful basis to advertise to them")
    ways.append("wait for the next snapshot, when the segment may have grown")
    st.info(f"{missing:,} more rows are needed for {plan.spec.label}. You can " + "; ".join(ways) + ".",
            icon=":material/lightbulb:")


def _checks(plan) -> None:
    columns = st.columns(3)
    with_lookalikes = plan.lookalikes is not None
    columns[0].metric("Members + lookalikes" if with_lookalikes else "Customers in the segments",
                      f"{plan.n_candidates:,}")
    columns[1].metric("Rows in the file", f"{plan.n_rows:,}")
    columns[2].metric("Excluded", f"{plan.n_excluded:,}")
    reasons = [f"{export.EXCLUSION_WORDS.get(k, k)}: {v:,}" for k, v in plan.excluded.items() if v]
    st.caption("Excluded — " + ("; ".join(reasons) if reasons else "nobody") +
               f". Minimum audience for {plan.spec.label}: {plan.min_size:,}.")
    if plan.refusal:
        st.error(f"Cannot export: {escape_markdown(in_page_words(plan.refusal))}", icon=":material/block:")
        if plan.n_rows < plan.min_size:  # too small (the other refusal, noise, is never offered here)
            _way_forward(plan)
    for warning in plan.warnings:
        st.warning(escape_markdown(in_page_words(warning)), icon=":material/warning:")
    if plan.ok and not plan.warnings:
        st.success("All checks passed.", icon=":material/verified:")


def _await_download(written: threading.Event) -> None:
    """The download button's on_click, run as the page reruns after a click: the file is written on the
    button's own thread meanwhile, so wait for it (at most :data:`DOWNLOAD_WAIT` seconds) and drop the
    cached reads, so the history below shows the new export at once instead of at the next refresh."""
    written.wait(DOWNLOAD_WAIT)
    common.after_write()


def _saved_download(plan, choices: tuple, written: threading.Event | None = None):
    """Data for the download button: the export recorded first (its audit row and members, no file kept on the
    server: :func:`~segmentation.audiences.write.record_download`), then its bytes handed to the browser.

    The button runs this on its own thread at each click, while the page's plan stays as it was
    shown. A second click finds that plan stale (the first click's export is now the last one):
    the choices are planned again, and the download is recorded when the file holds exactly the bytes the
    page previewed; anything else changed is refused as before (nothing recorded). ``written`` is set
    when the click's work is over, recorded or not (:func:`_await_download` waits for it)."""
    db = str(common.current_db())

    def produce() -> bytes:
        try:
            try:
                return export.record_download(db, plan)[1]
            except export.StalePlan:
                fresh = _fresh_plan(db, *choices)
                if not (fresh.ok and fresh.to_bytes("full") == plan.to_bytes("full")):
                    raise
                return export.record_download(db, fresh)[1]
        finally:
            if written is not None:
                written.set()

    return produce


def _save(plan) -> None:
    name = st.session_state.get("export_out") or plan.filename
    overwrite = bool(st.session_state.get("export_overwrite"))
    try:
        out = export.safe_export_path(EXPORT_DIR, name)
        result = export.write_export(str(common.current_db()), plan, out, overwrite=overwrite)
    except WorkbenchError as exc:
        common.flash(False, escape_markdown(in_page_words(str(exc))))
        return
    common.after_write()
    common.flash(True, f"Saved {result.n_rows:,} rows to {escape_markdown(str(result.path))} "
                       f"(export #{result.export_id}, SHA-256 {result.sha256[:12]}…)")


def _segment_names(run_id, segment_ids) -> str:
    """The exported segments' names in run ``run_id`` ("Bargain hunters, Night owls"), else their numbers."""
    if not isinstance(segment_ids, (list, tuple)):  # none recorded
        return "—"
    try:
        names = common.segment_labels(common.cached(read.segments, run_id=int(run_id)))
    except WorkbenchError:
        names = {}
    return ", ".join(names.get(int(i), f"segment {int(i)}") for i in segment_ids)


def _history() -> None:
    st.subheader("Export history")
    try:
        frame = export.list_exports(str(common.current_db()))
    except WorkbenchError as exc:
        common.show_error(exc)
        return
    if frame.empty:
        st.caption("Nothing exported yet.")
        return
    if "path" in frame.columns:  # a download's row says so instead of a path
        frame = frame.assign(path=frame["path"].map(
            lambda p: f"not kept (downloaded as {p.removeprefix(export.DOWNLOADED_AS)})"
            if str(p).startswith(export.DOWNLOADED_AS) else p))
    if "segment_ids" in frame.columns:  # the segments by name, as in the run they were exported from
        frame = frame.assign(segment_ids=[_segment_names(run_id, ids)
                                          for run_id, ids in zip(frame["run_id"], frame["segment_ids"])])
    shown = [c for c in ("export_id", "created_at", "run_id", "segment_ids", "platform", "kind", "n_rows",
                         "n_excluded", "path", "sha256") if c in frame.columns]
    st.dataframe(frame[shown], hide_index=True, width="stretch", column_config={
        "export_id": st.column_config.NumberColumn("Export", format="#%d"),
        "created_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
        "run_id": st.column_config.NumberColumn("Snapshot", format="run %d"),
        "segment_ids": st.column_config.TextColumn("Segments", width="medium"),  # long names: the rest stays in view
        "platform": st.column_config.TextColumn("Platform"),
        "kind": st.column_config.TextColumn("File"),
        "n_rows": st.column_config.NumberColumn("Rows", format="localized"),
        "n_excluded": st.column_config.NumberColumn("Left out", format="localized"),
        "path": st.column_config.TextColumn("Saved as"),
        "sha256": st.column_config.TextColumn("Fingerprint (SHA-256)")})


def render() -> None:
    run = common.page_run("Export")
    if run is None:
        return
    run_id = int(run["run_id"])
    frame = common.cached(read.segments, run_id=run_id)
    labels = common.segment_labels(frame)
    ids = frame.loc[frame["segment_id"] != -1, "segment_id"].astype(int).tolist()
    opened = st.session_state.get(common.SEGMENT_KEY)
    sizes = dict(zip(frame["segment_id"].astype(int), frame["size"].astype(int)))

    left, right = st.columns([3, 2])
    chosen = left.multiselect("Segments", ids, default=[opened] if opened in ids else [], key=f"export_segments_{run_id}",
                              format_func=lambda s: f"{labels[s]} ({sizes[s]:,})",
                              help="Several segments make one audience file.")
    platforms = list(export.PLATFORMS)
    platform = right.selectbox("Platform", platforms, key="export_platform",
                               format_func=lambda p: export.PLATFORMS[p].label)
    spec = export.PLATFORMS[platform]
    with st.expander("Options"):
        min_probability = st.slider("Minimum membership probability", 0.0, 1.0, 0.0, 0.05, key="export_min_p",
                                    help="Leave out customers who fit the segment only loosely.")
        unknown = st.checkbox("Include customers whose ad consent is unknown", key="export_unknown",
                              help="Customers who said no are never exported.")
        include_pii = st.checkbox("Plain contact columns (CRM / LinkedIn names)", key="export_pii",
                                  disabled=platform not in PII_PLATFORMS)
    st.caption(spec.upload_hint + (f" [Format]({spec.doc_url})" if spec.doc_url else ""))
    if not chosen:
        st.info("Choose one or more segments to see the checks and a preview.", icon=":material/checklist:")
        _history()
        return
    added = 0
    if len(chosen) == 1:
        profile = common.as_dict(frame.loc[frame["segment_id"] == chosen[0], "profile"].iloc[0])
        added = _expand(run_id, int(chosen[0]), sizes[int(chosen[0])], profile.get("lookalike"))
    path = common.current_db()
    choices = (run_id, tuple(sorted(chosen)), platform, float(min_probability), bool(unknown),
               bool(include_pii and platform in PII_PLATFORMS), added)
    try:
        plan = _plan(str(path), common.db_version(path), *choices)
    except WorkbenchError as exc:
        common.show_error(exc)
        _history()
        return
    st.subheader("Checks")
    _checks(plan)
    if plan.ok:
        st.subheader("Preview")
        preview, hidden = _preview(plan)
        st.caption(preview_caption(plan, hidden))
        st.dataframe(preview, hide_index=True, width="stretch")
        if plan.has_delta:
            if plan.delta_files:
                unremovable = (f"; {plan.removes_without_identifier:,} who left cannot be removed (no usable "
                               "identifier)" if plan.removes_without_identifier else "")
                st.caption(f"Compared with export #{plan.previous_export_id}: {len(plan.adds):,} to add, "
                           f"{len(plan.removes):,} to remove{unremovable} (“Save on the server” writes them next to "
                           "the file as .adds/.removes; Download gives the whole list).")
            else:
                st.caption(f"The same customers as export #{plan.previous_export_id}: nothing to add or remove.")
        download, save = st.columns(2)
        written = threading.Event()
        download.download_button("Download", data=_saved_download(plan, choices, written), file_name=plan.filename,
                                 on_click=_await_download, args=(written,),
                                 mime="text/csv", type="primary", icon=":material/download:", key="export_download",
                                 help="Recorded in the export history (who was in it, the file's fingerprint); no "
                                      "copy is kept on the server: “Save on the server” keeps one.")
        with save.popover("Save on the server", icon=":material/save:"):
            st.text_input("File name", value=plan.filename, key="export_out",
                          help=f"Saved in {EXPORT_DIR.resolve()} (a plain file name ending in .csv).")
            st.checkbox("Replace the file if it exists", key="export_overwrite")
            st.button("Save", key="export_save", on_click=_save, args=(plan,), type="primary")
    common.show_flash()
    _history()


render()
