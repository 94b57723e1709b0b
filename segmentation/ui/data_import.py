"""Import from the browser (part of the Data page): upload, map columns, import with ingest_file.

The uploaded bytes are kept next to the database under ``uploads/<fingerprint>/<name>``
so the import record points at a real file and error messages name it; the
import itself is :func:`segmentation.ingest.files.ingest_file` (validated, all or
nothing), and its errors are shown exactly as the command line prints them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from pathlib import Path

import streamlit as st

from segmentation.data import read, store
from segmentation.errors import InputError, WorkbenchError
from segmentation.ingest.columns import COLUMNS, REQUIRED, fold_column, match_columns
from segmentation.ingest.files import ingest_file
from segmentation.ingest.validate import check_upload_size
from segmentation.present.digest import escape_markdown
from segmentation.ui import background, common

# Matches server.maxUploadSize in .streamlit/config.toml; bigger files go through the command line.
UPLOAD_LIMIT_MB = 200
NOT_IN_FILE = "— not in the file —"
HEAD_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
RESULT_KEY = "import_result"
GO_RUN_KEY = "_import_go_run"


def _head_text(data: bytes) -> tuple[str, str]:
    """The first bytes of an uploaded CSV (gzip unpacked) as text, and its delimiter."""
    head = data[:HEAD_BYTES]
    if head.startswith(b"\x1f\x8b"):
        with gzip.open(io.BytesIO(data)) as fh:
            head = fh.read(HEAD_BYTES)
    text = head.decode("utf-8", errors="strict" if len(head) < HEAD_BYTES else "ignore").lstrip("\ufeff")
    text = text.lstrip("\r\n")
    line = text.splitlines()[0] if text.strip() else ""
    delimiter = max(DELIMITERS, key=line.count) if any(d in line for d in DELIMITERS) else ","
    return text, delimiter


def read_header(data: bytes) -> list[str] | None:
    """Column names of an uploaded CSV (optionally gzip) or Parquet file; None when unreadable."""
    try:
        if data.startswith(b"PAR1"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(io.BytesIO(data)).names)
        text, delimiter = _head_text(data)
    except Exception:  # noqa: BLE001 - any unreadable file: the import will say precisely why
        return None
    if not text.strip():
        return None
    return [c.strip() for c in next(csv.reader([text.splitlines()[0]], delimiter=delimiter))]


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


# Each field in words, with an example value (the stored column name is shown in the help).
FIELDS: dict[str, tuple[str, str]] = {
    "customer_id": ("Customer", "C00042 or 7781"),
    "ts": ("When it happened", "2025-06-30 14:05, or 2025-06-30"),
    "event_type": ("What happened", "purchase, view, cart, refund"),
    "channel": ("Where it happened", "web, app, store, email"),
    "category": ("Product category", "books, fashion"),
    "amount": ("Amount of money", "24.90"),
    "quantity": ("Quantity", "2"),
    "email": ("E-mail", "ana@example.com"),
    "phone": ("Phone", "+49 30 1234567"),
    "first_name": ("First name", "Ana"),
    "last_name": ("Last name", "Silva"),
    "country": ("Country", "DE or Germany"),
    "zip": ("Postal code", "10115"),
    "city": ("City", "Berlin"),
    "state": ("Region", "Bavaria"),
    "consent_ads": ("Agreed to advertising", "yes / no, true / false"),
}
CONTACT = ("email", "phone", "first_name", "last_name")
PREVIEW_ROWS = 5
#: Folded file column names that hold contact details, whatever the file is said to hold (an events
#: file with a phone column, a customer file with a second ``mobile`` column): masked in the preview.
CONTACT_NAMES = frozenset({name for canon in CONTACT for name in (canon, *SYNONYMS[canon])}
                          | {"name", "full_name", "fullname", "customer_name", "contact_name", "mobile_phone",
                             "mobile_number", "phone_mobile", "msisdn", "address", "street", "street_address"})
# A value written like a phone number: international (+49 …, 0049 …) or a national number with a gap
# (0151 2345678, (030) 1234567); dates (2025-06-30) and plain ids (7781) are not.
_PHONE_LIKE = re.compile(r"^(\+|00)\d[\d\s().\-/]{5,}$|^\(?0\d{1,5}\)?[\s/\-]\d[\d\s\-]{3,}$")

QUARANTINE = "Import the good rows and keep the bad ones in the rejects table"  # the checkbox, quoted by messages
# What the command line's options are called in this form (errors are shared with the command line).
_IN_APP_WORDS = (
    # whole phrases first: word for word they read "map them with the column chosen for …", "give a constant
    # with a constant for …"
    (re.compile(r"map them with --map (\w+)=YOUR_COLUMN"), lambda m: "choose their columns in the form below"),
    (re.compile(r"give a constant with --set (\w+)=VALUE"),
     lambda m: f"give “{FIELDS.get(m.group(1), (m.group(1),))[0]}” one value for every row"),
    (re.compile(r"--map (\w+)=[^\s,;)]+"), lambda m: f"the column chosen for “{FIELDS.get(m.group(1), (m.group(1),))[0]}”"),
    (re.compile(r"--set (\w+)=[^\s,;)]+"), lambda m: f"a constant for “{FIELDS.get(m.group(1), (m.group(1),))[0]}”"),
    (re.compile(r"--set (\w+)"), lambda m: f"a constant for “{FIELDS.get(m.group(1), (m.group(1),))[0]}”"),
    (re.compile(r"--map"), lambda m: "the column choice"),
    (re.compile(r"--set"), lambda m: "a constant"),
    (re.compile(r"give other formats with --ts-format"),
     lambda m: "for other formats, write how the dates are written in “How the dates are written”"),
    (re.compile(r"--ts-format"), lambda m: "the timestamp format"),
    (re.compile(r"(?<!file )column '(\w+)'"),
     lambda m: f"column “{FIELDS[m.group(1)][0]}”" if m.group(1) in FIELDS else m.group(0)),
    (re.compile(r"use --quarantine to import the good rows and keep the bad ones in the rejects table"),
     lambda m: f"tick “{QUARANTINE}”"),
    (re.compile(r"--quarantine"), lambda m: f"“{QUARANTINE}”"),
    (re.compile(r"--replace"), lambda m: "“Replace an earlier import of the same file”"),
    (re.compile(r"\(python -m segmentation ingest FILE\)"), lambda m: "(ask an analyst to run the import command)"),
)


def in_app_words(message: str, stored: Path | None = None, name: str | None = None) -> str:
    """A message of the import, as the form says it: the fields by name instead of command-line
    options, and the uploaded file's name instead of where the server keeps it."""
    if stored is not None and name:
        message = message.replace(str(stored), name)
    for pattern, words in _IN_APP_WORDS:
        message = pattern.sub(words, message)
    if re.search(r"\(rows? \d", message):  # the numbers count data rows, not a spreadsheet's lines
        message += " (Row 1 is the first line after the column names.)"
    return message


def preview_rows(data: bytes, header: list[str] | None, kind: str, n: int = PREVIEW_ROWS):
    """The first ``n`` rows of an uploaded file as text, contact columns masked (``a•••``); None if unreadable.

    A column is masked when the form would map it to a contact field, when its name says it holds
    contact details (:data:`CONTACT_NAMES`), or when a value in it looks like an e-mail or a phone number."""
    import pandas as pd

    try:  # only the file's first bytes (CSV) or first row group batch (Parquet) are read
        if data.startswith(b"PAR1"):
            import pyarrow.parquet as pq

            batch = next(pq.ParquetFile(io.BytesIO(data)).iter_batches(batch_size=n))
            frame = batch.to_pandas().astype(str)
        else:
            text, delimiter = _head_text(data)
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, nrows=n, dtype=str, keep_default_na=False,
                                engine="python")
    except Exception:  # noqa: BLE001 - the import itself says what is wrong with the file
        return None
    contact = {v for k, v in default_mapping(kind, header or list(frame.columns)).items() if k in CONTACT}
    for column in frame.columns:
        values = frame[column].astype(str)
        if (column in contact or fold_column(str(column)) in CONTACT_NAMES
                or values.str.contains("@", regex=False).any() or values.str.strip().str.match(_PHONE_LIKE).any()):
            frame[column] = values.map(lambda v: (v[:1] + "•••") if v else v)
    return frame


def default_mapping(kind: str, header: list[str]) -> dict[str, str]:
    """canonical column → the file column that names it: what ingest itself would pick
    (:func:`~segmentation.ingest.columns.match_columns`), else the first of its :data:`SYNONYMS` (``user`` →
    customer_id, ``when`` → ts, ``price`` → amount); a file column is matched to one canonical column at most."""
    by_fold: dict[str, str] = {}
    for column in header:
        by_fold.setdefault(fold_column(column), column)
    mapping = {canon: header[index] for canon, index in match_columns(kind, header, {}).items()}
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


def uploaded_name(file: str) -> str:
    """An import's file as the Imports table shows it: an upload's own name (not where the server keeps its copy,
    :func:`_stored_copy`), any other file's path as the command line was given it."""
    path = Path(str(file))
    uploads = store.db_path(common.current_db()).resolve().parent / "uploads"  # the import stores resolved paths
    return f"{path.name} (uploaded)" if path.resolve().parent.parent == uploads else str(file)


def _mapping_form(kind: str, header: list[str] | None, key: str) -> dict | None:
    """The column-mapping form; returns the chosen options when submitted."""
    defaults = default_mapping(kind, header) if header else {}
    with st.form(f"import_form_{key}", enter_to_submit=False):  # only the button imports
        st.markdown("**Columns** — which column of your file holds each field (* required), "
                    "or one value for every row. Matched by name where we could: check them.")
        mapping, constants = {}, {}
        for canon in COLUMNS[kind]:
            left, right = st.columns([3, 2])
            plain, example = FIELDS.get(canon, (canon, ""))
            label = f"{plain}{' *' if canon in REQUIRED[kind] else ''}"
            hint = f"For example: {example}. Stored as “{canon}”."
            if header:
                options = [NOT_IN_FILE, *header]
                chosen = left.selectbox(label, options, index=options.index(defaults.get(canon, NOT_IN_FILE)),
                                        key=f"map_{key}_{canon}", help=hint)
                source = None if chosen == NOT_IN_FILE else chosen
            else:
                source = left.text_input(label, value="", key=f"map_{key}_{canon}", help=hint) or None
            constant = right.text_input(f"{plain}: one value for every row", key=f"set_{key}_{canon}",
                                        label_visibility="collapsed", placeholder="or one value for every row",
                                        disabled=canon == "customer_id")
            if constant.strip():
                constants[canon] = constant.strip()
            elif source:
                mapping[canon] = source
        ts_format = None
        if kind == "events":
            ts_format = st.text_input("How the dates are written (only if not like 2025-06-30)", key=f"ts_{key}",
                                      placeholder="%d.%m.%Y for 30.06.2025",
                                      help="Dates like 2025-06-30 or 2025-06-30 14:05 are always understood. "
                                           "Otherwise write the pattern: %d day, %m month, %Y year, %H:%M time "
                                           "(Python strptime codes).") or None
        quarantine = st.checkbox(QUARANTINE,
                                 key=f"quarantine_{key}",
                                 help="By default any bad row stops the import and nothing changes.")
        replace = st.checkbox("Replace an earlier import of the same file", key=f"replace_{key}")
        if not st.form_submit_button("Import", type="primary", icon=":material/upload:"):
            return None
    return {"mapping": mapping, "constants": constants, "ts_format": ts_format, "quarantine": quarantine,
            "replace": replace}


def _run_import(path: Path, name: str, kind: str, options: dict) -> None:
    try:
        with store.connect(common.current_db()) as con:
            result = ingest_file(con, path, kind=kind, **options)
    except WorkbenchError as exc:
        st.session_state[RESULT_KEY] = ("error", in_app_words(f"{exc}", path, name), None)
        return
    finally:
        common.after_write()
    document = result.to_dict()
    rows, rejected = document["n_rows"], document.get("n_rejected") or 0
    lines = [f"Imported {rows:,} row{'s' if rows != 1 else ''} of {kind} from {name} "
             f"(import #{document['ingest_id']}, {document['seconds']:.1f} s)."]
    if rejected:
        lines.append(f"{rejected:,} bad row{' was' if rejected == 1 else 's were'} kept aside: see below.")
    lines += [f"Warning: {in_app_words(w, path, name)}" for w in document.get("warnings", [])]
    st.session_state[RESULT_KEY] = ("success", "\n".join(lines), document)


def _rejects(ingest_id: int) -> None:
    """The rows an import kept aside (quarantine): why, where, and a download of them as they were read."""
    import pandas as pd

    rejects = common.cached(read.rejects, ingest_id=int(ingest_id))
    if rejects.empty:
        return
    st.markdown(f"**{len(rejects):,} rows kept aside** — not imported; fix them in your file and import it again.")
    st.dataframe(rejects[["row_number", "reason"]], hide_index=True, width="stretch",
                 column_config={"row_number": st.column_config.NumberColumn("Row in the file", format="%d"),
                                "reason": st.column_config.TextColumn("Why it was kept aside")})
    raw = pd.DataFrame([common.as_dict(r) for r in rejects["raw"]])
    download = pd.concat([rejects[["row_number", "reason"]].reset_index(drop=True), raw], axis=1)
    st.download_button("Download the rows kept aside (CSV)", download.to_csv(index=False).encode("utf-8"),
                       file_name=f"rows_kept_aside_import_{int(ingest_id)}.csv", mime="text/csv",
                       icon=":material/download:", key=f"rejects_{ingest_id}", on_click="ignore")


def _compute_now() -> None:
    """The "Compute a snapshot now" button's callback: start it (it runs before the page does)."""
    import pandas as pd

    params, _ = background.latest_params()
    when = pd.Timestamp(common.data_summary()["last_event"]).date()
    background.start_snapshot(params, when)
    st.session_state[GO_RUN_KEY] = True


def _next_step(kind: str) -> None:
    """After an import of events: compute a snapshot now (in the background), from the latest parameters."""
    if kind == "events":
        st.button("Compute a snapshot now", type="primary", icon=":material/play_arrow:", key="import_snapshot",
                  on_click=_compute_now,
                  help="Finds the segments as of the last day of the data, with the latest snapshot's parameters; "
                       "the Run page shows its progress.")


def import_section() -> None:
    """Upload → column mapping → validated import, with the command line's messages."""
    if st.session_state.pop(GO_RUN_KEY, False):  # a snapshot was started after the import: follow it there
        st.switch_page(common.PAGES["run"])
    st.subheader("Import a file")
    st.caption(f"A CSV (also .csv.gz) or Parquet file, up to {UPLOAD_LIMIT_MB} MB here; an analyst can import "
               "bigger files with the command line (same checks, no size limit).")
    kind = st.segmented_control("The file holds", ["events", "customers"], default="events", required=True,
                                key="import_kind")
    kind = kind or "events"
    uploaded = st.file_uploader("File", type=["csv", "gz", "parquet"], key=f"upload_{kind}",
                                max_upload_size=UPLOAD_LIMIT_MB)
    result = st.session_state.pop(RESULT_KEY, None)
    if result:
        state, text, document = result
        shown = "  \n".join(escape_markdown(line) for line in text.splitlines())
        if state == "error":
            st.error(f"**Nothing was imported.**  \n{shown}", icon=":material/error:")
        else:
            st.success(shown, icon=":material/check_circle:")
        if document:
            if document.get("n_rejected"):
                _rejects(int(document["ingest_id"]))
            _next_step(kind)
    if uploaded is None:
        return
    try:
        check_upload_size(uploaded.size, UPLOAD_LIMIT_MB * 1024 * 1024, name=uploaded.name)
    except InputError as exc:
        st.error(in_app_words(str(exc)), icon=":material/error:")
        return
    data = uploaded.getvalue()
    header = read_header(data)
    if header is None:
        st.warning("The columns of this file could not be read here; the import will say what is wrong.",
                   icon=":material/warning:")
    preview = preview_rows(data, header, kind)
    if preview is not None:
        shown = "The first row" if len(preview) == 1 else f"The first {len(preview)} rows"
        st.markdown(f"**{shown}** as read (contact details masked)")
        st.dataframe(preview, hide_index=True, width="stretch")
    key = f"{kind}_{hashlib.sha256(data).hexdigest()[:8]}"
    options = _mapping_form(kind, header, key)
    if options is not None:
        _run_import(_stored_copy(uploaded.name, data), uploaded.name, kind, options)
        st.rerun()
