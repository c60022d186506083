"""CRM-ready customer files: the customer table in the import layouts of Klaviyo, Mailchimp
and HubSpot, and a generic layout with a segment tag, joined with an optional contacts file
(customer id -> e-mail, name).

The layouts follow the vendors' documentation as read on 2026-11-30 (``/docs`` lists the
pages and their dates):

* Klaviyo, "How to create and add subscribers to a new list" (help.klaviyo.com article
  115005078967, updated 2025-01-03): the first column is ``Email``; Klaviyo properties by
  their names (``First Name``, ``Last Name``); any other header becomes a custom property.
  A file is uploaded into one list: one file per list.
* Mailchimp, "Format guidelines for your import file" (mailchimp.com/help): ``Email
  Address`` is the one required column; ``First Name``, ``Last Name``; ``Tags`` holds
  comma-separated tags (at most 100 characters each); text fields keep at most 255 bytes.
* HubSpot, "Set up your import files" (knowledge.hubspot.com, updated 2019-07-29): headers
  match contact properties (``Email``, ``First Name``, ``Last Name``, ``Lifecycle Stage``);
  contacts are de-duplicated by e-mail; the import can create a static list of its contacts.

Every layout is written formula-safe (:mod:`dashapp.service.exports`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dashapp.ingest.loading import DataLoadError

LAYOUTS = ("generic", "klaviyo", "mailchimp", "hubspot")
LAYOUT_LABELS = {
    "generic": "Generic (segment tag)",
    "klaviyo": "Klaviyo list upload",
    "mailchimp": "Mailchimp audience import",
    "hubspot": "HubSpot contacts import",
}
#: The customer measures every layout carries after the contact columns (our column -> header).
_MEASURES = {
    "customer_id": "Customer ID",
    "segment": "RFM Segment",
    "cluster": "Cluster",
    "recommended_action": "Recommended Action",
    "clv": "Predicted CLV",
    "p_alive": "P Alive",
    "value_at_stake": "Value At Stake",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAILCHIMP_TAG_MAX = 100
MAILCHIMP_TEXT_MAX_BYTES = 255


@dataclass(frozen=True)
class CrmFile:
    """A layout's rows and what the join with the contacts found: ``customers`` in the
    table, ``with_contact`` of them have an e-mail, ``without_contact`` do not (left out of
    the vendor layouts, which need an e-mail; kept with a blank one in the generic layout)."""

    frame: pd.DataFrame
    layout: str
    customers: int
    with_contact: int
    without_contact: int

    def summary(self) -> str:
        return (
            f"{self.customers:,} customers; {self.with_contact:,} with an e-mail, "
            f"{self.without_contact:,} without a contact"
            + (" (left out: the layout needs an e-mail)" if self.layout != "generic" else "")
        )


def customer_key(values: pd.Series) -> pd.Series:
    """Customer ids as the app writes them (``13085.0`` -> ``13085``, spaces trimmed)."""
    text = values.astype("string").str.strip()
    return text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def read_contacts(path: str | Path) -> pd.DataFrame:
    """A contacts file (CSV or parquet) as ``customer_id``, ``email``, ``first_name``,
    ``last_name``. Columns (any case): ``customer_id`` (or ``customer id``), ``email`` (or
    ``e-mail``), and either ``first_name``/``last_name`` or one ``name`` (split at its first
    space). DataLoadError naming the problem otherwise."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataLoadError(f"The contacts file {path} does not exist.") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataLoadError(f"The contacts file {path} cannot be read: {exc}.") from None
    return contacts_from_frame(raw, path.name)


def contacts_from_frame(raw: pd.DataFrame, name: str = "contacts") -> pd.DataFrame:
    """:func:`read_contacts` of a table already read (an upload); ``name`` is the file's
    name, used in the messages."""
    path = Path(name)
    names = {re.sub(r"[\s\-_]+", "_", str(c).strip().lower()): c for c in raw.columns}
    id_col = names.get("customer_id") or names.get("customerid")
    mail_col = names.get("email") or names.get("e_mail") or names.get("email_address")
    if id_col is None or mail_col is None:
        raise DataLoadError(
            f"The contacts file {path.name} needs a customer_id and an email column; "
            f"it has {', '.join(map(str, raw.columns)) or 'no columns'}."
        )
    out = pd.DataFrame({"customer_id": customer_key(raw[id_col])})
    out["email"] = raw[mail_col].astype("string").str.strip().replace("", pd.NA)
    if "first_name" in names or "last_name" in names:
        for col in ("first_name", "last_name"):
            out[col] = raw[names[col]].astype("string").str.strip() if col in names else ""
    elif "name" in names:
        parts = raw[names["name"]].astype("string").str.strip().str.split(" ", n=1, expand=True)
        out["first_name"] = parts[0]
        out["last_name"] = parts[1] if parts.shape[1] > 1 else ""
    else:
        out["first_name"] = out["last_name"] = ""
    out = out[out["customer_id"].notna() & (out["customer_id"] != "")]
    bad = out["email"].notna() & ~out["email"].fillna("").str.match(_EMAIL)
    if bad.any():
        first = out.loc[bad, "email"].iloc[0]
        raise DataLoadError(
            f"The contacts file {path.name} has {int(bad.sum())} e-mail address(es) that are "
            f"not addresses, e.g. {first!r} (customer {out.loc[bad, 'customer_id'].iloc[0]})."
        )
    dupes = out["customer_id"].duplicated(keep=False)
    if dupes.any():
        raise DataLoadError(
            f"The contacts file {path.name} lists customer {out.loc[dupes, 'customer_id'].iloc[0]}"
            " more than once; give one e-mail per customer."
        )
    return out.fillna({"first_name": "", "last_name": ""}).reset_index(drop=True)


def segment_tag(segment: pd.Series) -> pd.Series:
    """``Can't Lose Them`` -> ``rfm-cant-lose-them``: a tag every tool accepts."""
    slug = segment.astype("string").str.lower().str.replace("'", "", regex=False)
    return "rfm-" + slug.str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")


def crm_file(table: pd.DataFrame, layout: str, contacts: pd.DataFrame | None = None) -> CrmFile:
    """The customer table (the Action list's columns) in ``layout`` (:data:`LAYOUTS`),
    joined with ``contacts`` (:func:`read_contacts`) by customer id. A vendor layout without
    any contact is refused (they import by e-mail)."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}.")
    base = table.copy()
    base["customer_id"] = customer_key(base["customer_id"])
    if contacts is None:
        contacts = pd.DataFrame(columns=["customer_id", "email", "first_name", "last_name"])
    joined = base.merge(contacts, on="customer_id", how="left")
    has = joined["email"].notna()
    n, n_with = len(joined), int(has.sum())
    if layout != "generic":
        if n_with == 0:
            raise DataLoadError(
                f"The {LAYOUT_LABELS[layout]} layout needs e-mail addresses and none of the "
                f"{n:,} customers has one: give a contacts file (customer id -> e-mail, name)."
            )
        joined = joined[has]
    joined = joined.fillna({"first_name": "", "last_name": ""})
    measures = joined[[c for c in _MEASURES if c in joined.columns]].rename(columns=_MEASURES)
    for col, digits in (("Predicted CLV", 2), ("P Alive", 3), ("Value At Stake", 2)):
        if col in measures:
            measures[col] = measures[col].round(digits)
    contact = {
        "generic": ("email", "first_name", "last_name"),
        "klaviyo": ("Email", "First Name", "Last Name"),
        "mailchimp": ("Email Address", "First Name", "Last Name"),
        "hubspot": ("Email", "First Name", "Last Name"),
    }[layout]
    front = pd.DataFrame(
        dict(
            zip(contact, (joined["email"], joined["first_name"], joined["last_name"]), strict=True)
        )
    )
    tags = segment_tag(joined["segment"])
    if layout == "generic":
        front.insert(0, "customer_id", joined["customer_id"])
        front["segment_tag"] = tags
        measures = measures.drop(columns="Customer ID")
        measures.columns = [c.lower().replace(" ", "_") for c in measures.columns]
        measures = measures.rename(columns={"rfm_segment": "segment"})
    elif layout == "mailchimp":
        front["Tags"] = tags.str.slice(0, MAILCHIMP_TAG_MAX)
        action = measures["Recommended Action"].astype("string")
        measures["Recommended Action"] = action.map(_clip_bytes, na_action="ignore")
    elif layout == "hubspot":
        front["Lifecycle Stage"] = "customer"
    frame = pd.concat([front.reset_index(drop=True), measures.reset_index(drop=True)], axis=1)
    return CrmFile(frame, layout, n, n_with, n - n_with)


def _clip_bytes(text: str, limit: int = MAILCHIMP_TEXT_MAX_BYTES) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")
