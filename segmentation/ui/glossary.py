"""Glossary page: the words the workbench uses, for the people who use its segments."""

from __future__ import annotations

import streamlit as st

from segmentation.constants import ANNOUNCE_SHARE, GROWTH

# (term, meaning), in the order a marketer meets them.
TERMS = (
    ("Segment", "A group of customers who behave alike, found in the data by the workbench itself: nobody wrote "
                "a rule for it. Each customer is in one segment, or unassigned."),
    ("Snapshot", "The segments as of one date. Each snapshot is computed from the behaviour in its window and "
                 "compared with the snapshot before it."),
    ("Window", "How many days of behaviour before the snapshot date describe a customer (e.g. 60 days). "
               "Snapshots are compared only when their windows match."),
    ("Unassigned", "Customers whose behaviour is unlike every segment (analysts call them noise). They are in "
                   "no audience."),
    ("Reliable segment", "A segment found again when the segmentation is repeated on different samples of the "
                         "customers: a real group, not an accident of the data."),
    ("Stability", "How reliable one segment is, on the Segment page: “stable” when those repeats find mostly the "
                  "same customers again, “uncertain” when they find part of them, “not to be trusted” when they "
                  "do not."),
    ("Suggested name", "A name written from a segment's strongest traits. Give it your own name on the Segment "
                       "page; your name stays with the segment in later snapshots while its behaviour continues."),
    ("Trait", "What sets a segment apart, compared with all customers: “2.3× more app use”, "
              "“2.0× less in-store buying”, “almost no web use”."),
    ("Lineage", "The same segment followed from snapshot to snapshot, even when its number changes. "
                "It keeps one colour on every chart."),
    ("Emerged (NEW)", "A segment unlike any segment of the previous snapshot: new behaviour worth a look."),
    ("Split (split off)", "Part of an earlier segment now behaves differently enough to be a segment of its own."),
    ("Merged", "Two earlier segments now behave alike and are one segment."),
    ("Survived", "The segment continues; it may have grown, shrunk or shifted a little."),
    ("GROWING, FADING", f"A segment that survived and whose share of the customers rose (or fell) by "
                        f"{GROWTH:.0%} or more of itself since the previous snapshot; smaller moves are ordinary "
                        "wobble between snapshots."),
    ("pts", "Percentage points: a share that went from 20 % to 23 % moved +3.0 pts."),
    ("Forming", f"A new group not yet announced: it is followed from snapshot to snapshot and emerges once it "
                f"holds {ANNOUNCE_SHARE:.0%} of the customers."),
    ("Dissolved", "A forming group that ended before it was announced (taken in by another segment, or gone)."),
    ("Disappeared", "An earlier segment whose customers scattered or went quiet."),
    ("Share kept", "Of a segment's customers in the earlier snapshot, the share still together in the later one."),
    ("Gone quiet", "Of a segment's customers at the previous snapshot, the share with no activity at all in this "
                   "snapshot's window."),
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
