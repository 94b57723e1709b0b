"""Import from the browser (part of the Data page): upload, map columns, import with ingest_file.

The uploaded bytes are kept next to the database under ``uploads/<fingerprint>/<name>``
so the import record points at a real file and error messages name it; the
import itself is :func:`segmentation.ingest.ingest_file` (validated, all or
nothing), and its errors are shown exactly as the command line prints them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from pathlib import Path

import streamlit as st

from segmentation import store
from segmentation.errors import InputError, WorkbenchError
from segmentation.ingest import COLUMNS, REQUIRED, check_upload_size, fold_column, ingest_file
from segmentation.ui import common

# Matches server.maxUploadSize in .streamlit/config.toml; bigger files go through the command line.
UPLOAD_LIMIT_MB = 200
NOT_IN_FILE = "— not in the file —"
HEAD_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
RESULT_KEY = "import_result"


def read_header(data: bytes) -> list[str] | None:
    """Column names of an uploaded CSV (optionally gzip) or Parquet file; None when unreadable."""
    try:
        if data.startswith(b"PAR1"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(io.BytesIO(data)).names)
        head = data[:HEAD_BYTES]
        if head.startswith(b"\x1f\x8b"):
            with gzip.open(io.BytesIO(data)) as fh:
                head = fh.read(HEAD_BYTES)
        text = head.decode("utf-8", errors="strict" if len(head) < HEAD_BYTES else "ignore").lstrip("\ufeff")
        line = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    except Exception:  # noqa: BLE001 - any unreadable file: the import will say precisely why
        return None
    if not line:
        return None
    delimiter = max(DELIMITERS, key=line.count) if any(d in line for d in DELIMITERS) else ","
    return [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]


# Names people give our columns (folded: lower case, spaces and dashes as "_"), most likely first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer", "customerid", "cust_id", "user", "user_id", "userid", "client", "client_id",
                    "member", "member_id", "visitor", "visitor_id", "account", "account_id", "shopper", "id"),
    "ts": ("timestamp", "time_stamp", "when", "time", "datetime", "date_time", "date", "event_time",
           "event_date", "occurred_at", "created_at", "at"),
    "event_type": ("event", "what", "type", "action", "event_name", "activity", "interaction"),
    "channel": ("where", "source", "medium", "touchpoint", "platform", "via"),
    "category": ("cat", "product_category", "categories", "department", "dept", "section", "product_type"),
    "amount": ("price", "value", "revenue", "spend", "total", "sales", "amount_eur", "amount_usd", "order_value"),
    "quantity": ("qty", "units", "items", "count", "pieces"),
    "email": ("e_mail", "mail", "email_address"),
    "phone": ("phone_number", "mobile", "telephone", "tel", "cell"),
    "first_name": ("firstname", "given_name", "fname", "forename"),
    "last_name": ("lastname", "surname", "family_name", "lname"),
    "country": ("country_code", "nation"),
    "zip": ("zipcode", "zip_code", "postal_code", "postcode", "plz"),
    "city": ("town", "locality"),
    "state": ("region", "province", "county"),
    "consent_ads": ("consent", "ads_consent", "ad_consent", "marketing_consent", "opt_in", "optin"),
}


def default_mapping(kind: str, header: list[str]) -> dict[str, str]:
    """canonical column → the file column that names it: the same folded name (what ingest itself
    would pick), else the first of its :data:`SYNONYMS` (``user`` → customer_id, ``when`` → ts,
    ``price`` → amount); a file column is matched to one canonical column at most."""
    by_fold: dict[str, str] = {}
    for column in header:
        by_fold.setdefault(fold_column(column), column)
    mapping = {canon: by_fold[canon] for canon in COLUMNS[kind] if canon in by_fold}
    used = set(mapping.values())
    for canon in COLUMNS[kind]:
        if canon in mapping:
            continue
        match = next((by_fold[name] for name in SYNONYMS.get(canon, ()) if by_fold.get(name) not in (None, *used)),
                     None)
        if match is not None:
            mapping[canon] = match
            used.add(match)
    return mapping


def _stored_copy(name: str, data: bytes) -> Path:
    folder = store.db_path(common.current_db()).parent / "uploads" / hashlib.sha256(data).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (Path(name).name or "upload.csv")
    if not path.exists():
        path.write_bytes(data)
    return path


def _mapping_form(kind: str, header: list[str] | None, key: str) -> dict | None:
    """The column-mapping form; returns the chosen options when submitted."""
    defaults = default_mapping(kind, header) if header else {}
    with st.form(f"import_form_{key}"):
        st.markdown("**Columns** — which column of your file holds each field (* required), "
                    "or a constant for every row.")
        mapping, constants = {}, {}
        for canon in COLUMNS[kind]:
            left, right = st.columns([3, 2])
            label = f"{canon}{' *' if canon in REQUIRED[kind] else ''}"
            if header:
                options = [NOT_IN_FILE, *header]
                chosen = left.selectbox(label, options, index=options.index(defaults.get(canon, NOT_IN_FILE)),
                                        key=f"map_{key}_{canon}")
                source = None if chosen == NOT_IN_FILE else chosen
            else:
                source = left.text_input(label, value="", key=f"map_{key}_{canon}") or None
            constant = right.text_input(f"constant {canon}", key=f"set_{key}_{canon}",
                                        label_visibility="collapsed", placeholder="or a constant value",
                                        disabled=canon == "customer_id")
            if constant.strip():
                constants[canon] = constant.strip()
            elif source:
                mapping[canon] = source
        ts_format = None
        if kind == "events":
            ts_format = st.text_input("Timestamp format (strptime, optional)", key=f"ts_{key}", placeholder="%Y%m%d",
                                      help="ISO dates and timestamps are always understood.") or None
        quarantine = st.checkbox("Import the good rows and keep the bad ones in the rejects table",
                                 key=f"quarantine_{key}",
                                 help="By default any bad row stops the import and nothing changes.")
        replace = st.checkbox("Replace an earlier import of the same file", key=f"replace_{key}")
        if not st.form_submit_button("Import", type="primary", icon=":material/upload:"):
            return None
    return {"mapping": mapping, "constants": constants, "ts_format": ts_format, "quarantine": quarantine,
            "replace": replace}


def _run_import(path: Path, kind: str, options: dict) -> None:
    try:
        with store.connect(common.current_db()) as con:
            result = ingest_file(con, path, kind=kind, **options)
    except WorkbenchError as exc:
        st.session_state[RESULT_KEY] = ("error", f"error: {exc}")
        return
    finally:
        common.after_write()
    document = result.to_dict()
    lines = [f"imported {document['n_rows']:,} {kind} rows from {path.name} "
             f"(import #{document['ingest_id']}, {document['seconds']:.1f} s)"]
    if document.get("n_rejected"):
        lines.append(f"{document['n_rejected']:,} bad rows kept in the rejects table")
    lines += [f"warning: {w}" for w in document.get("warnings", [])]
    st.session_state[RESULT_KEY] = ("success", "\n".join(lines))


def import_section() -> None:
    """Upload → column mapping → validated import, with the command line's messages."""
    st.subheader("Import a file")
    st.caption(f"CSV (also .csv.gz) or Parquet, up to {UPLOAD_LIMIT_MB} MB here; for bigger files use "
               "`python -m segmentation ingest FILE` (same checks, no size limit).")
    kind = st.segmented_control("The file holds", ["events", "customers"], default="events", key="import_kind")
    kind = kind or "events"
    uploaded = st.file_uploader("File", type=["csv", "gz", "parquet"], key=f"upload_{kind}",
                                max_upload_size=UPLOAD_LIMIT_MB)
    result = st.session_state.pop(RESULT_KEY, None)
    if result:
        if result[0] == "error":
            st.error("Nothing was imported:", icon=":material/error:")
        else:
            st.success("Import finished:", icon=":material/check_circle:")
        st.code(result[1], language=None, wrap_lines=True)
    if uploaded is None:
        return
    try:
        check_upload_size(uploaded.size, UPLOAD_LIMIT_MB * 1024 * 1024, name=uploaded.name)
    except InputError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    data = uploaded.getvalue()
    header = read_header(data)
    if header is None:
        st.warning("The columns of this file could not be read here; the import will say what is wrong.",
                   icon=":material/warning:")
    key = f"{kind}_{hashlib.sha256(data).hexdigest()[:8]}"
    options = _mapping_form(kind, header, key)
    if options is not None:
        _run_import(_stored_copy(uploaded.name, data), kind, options)
        st.rerun()
