"""Glossary page: the words the workbench uses, for the people who use its segments."""

from __future__ import annotations

import streamlit as st

# (term, meaning), in the order a marketer meets them.
TERMS = (
    ("Segment", "A group of customers who behave alike, found in the data by the workbench itself: nobody wrote "
                "a rule for it. Each customer is in one segment, or unassigned."),
    ("Snapshot", "The segments as of one date. Each snapshot is computed from the behaviour in its window and "
                 "compared with the snapshot before it."),
    ("Window", "How many days of behaviour before the snapshot date describe a customer (e.g. 60 days). "
               "Snapshots are compared only when their windows match."),
    ("Unassigned", "Customers whose behaviour is unlike every segment. They are in no audience."),
    ("Reliable segment", "A segment found again when the segmentation is repeated on different samples of the "
                         "customers: a real group, not an accident of the data."),
    ("Suggested name", "A name written from a segment's strongest traits. Give it your own name on the Segment "
                       "page; your name stays with the segment in later snapshots while its behaviour continues."),
    ("Trait", "What sets a segment apart, compared with all customers: “2.3× more app use”, "
              "“half as much in-store buying”."),
    ("Lineage", "The same segment followed from snapshot to snapshot, even when its number changes. "
                "It keeps one colour on every chart."),
    ("Emerged", "A segment unlike any segment of the previous snapshot: new behaviour worth a look."),
    ("Split off", "Part of an earlier segment now behaves differently enough to be a segment of its own."),
    ("Merged", "Two earlier segments now behave alike and are one segment."),
    ("Survived", "The segment continues; it may have grown, shrunk or shifted a little."),
    ("Disappeared", "An earlier segment whose customers scattered or went quiet."),
    ("Membership", "How surely a customer belongs to their segment (0–100 %). Exports can leave out loose members."),
    ("Rules", "A few plain conditions (“app share above 40 % and night share above 30 %”) that rebuild a "
              "segment in tools such as a CDP. Their F1 says how closely they match it: 1.0 is exact."),
    ("Lookalikes", "Customers outside a segment who most resemble its members, to grow an audience. "
                   "“Recall at the top 20 %” says how well this finds hidden members: 0.20 is chance, 1.0 perfect."),
    ("Consent", "Only customers who agreed to advertising are exported. Customers whose consent was never "
                "recorded are left out unless you include them, which needs another lawful basis."),
    ("Hashing", "Ad platforms receive e-mails and phone numbers scrambled (SHA-256) as each platform asks, "
                "never in plain text."),
    ("Minimum audience", "The smallest list a platform accepts (e.g. 100 matched people for Google). A smaller "
                         "audience cannot be exported; the Export page says what you can do."),
)


def render() -> None:
    st.title("Glossary")
    st.caption("The words the workbench uses, in plain language.")
    for term, meaning in TERMS:
        st.markdown(f"**{term}** — {meaning}")


render()
