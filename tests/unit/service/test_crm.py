"""CRM layouts: the vendors' column names, the contacts join and its count, formula safety."""

from __future__ import annotations

import pandas as pd
import pytest

from dashapp.ingest.loading import DataLoadError
from dashapp.service import crm
from dashapp.service.exports import to_safe_csv, write_table


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["1", "2", "3"],
            "segment": ["Champions", "Can't Lose Them", "At Risk"],
            "cluster": ["High", "Low", ""],
            "p_alive": [0.91234, 0.5, None],
            "clv": [100.456, 20.0, None],
            "value_at_stake": [8.83, 10.0, None],
            "recommended_action": ["Reward them.", "Win them back.", "=HYPERLINK(1)"],
            "recency": [3, 90, 200],
        }
    )


def _contacts(tmp_path, text: str):
    path = tmp_path / "contacts.csv"
    path.write_text(text, encoding="utf-8")
    return crm.read_contacts(path)


def test_each_layout_has_its_vendors_headers_and_counts_missing_contacts(tmp_path):
    contacts = _contacts(tmp_path, "Customer ID,E-mail,Name\n1.0,ann@example.com,Ann Lee\n")
    heads = {
        "klaviyo": ["Email", "First Name", "Last Name"],
        "mailchimp": ["Email Address", "First Name", "Last Name", "Tags"],
        "hubspot": ["Email", "First Name", "Last Name", "Lifecycle Stage"],
    }
    for layout, head in heads.items():
        out = crm.crm_file(_table(), layout, contacts)
        assert list(out.frame.columns[: len(head)]) == head
        assert (out.customers, out.with_contact, out.without_contact) == (3, 1, 2)
        assert len(out.frame) == 1  # customers without an e-mail are left out
        row = out.frame.iloc[0]
        assert row.iloc[0] == "ann@example.com" and row["First Name"] == "Ann"
        assert row["Last Name"] == "Lee" and row["Customer ID"] == "1"
        assert row["Predicted CLV"] == 100.46 and row["P Alive"] == 0.912
    assert crm.crm_file(_table(), "mailchimp", contacts).frame["Tags"].iloc[0] == "rfm-champions"
    generic = crm.crm_file(_table(), "generic", contacts)
    assert len(generic.frame) == 3 and generic.without_contact == 2
    assert list(generic.frame.columns[:5]) == [
        "customer_id", "email", "first_name", "last_name", "segment_tag",
    ]  # fmt: skip
    assert generic.frame["segment_tag"].tolist() == [
        "rfm-champions", "rfm-cant-lose-them", "rfm-at-risk",
    ]  # fmt: skip
    assert "2 without a contact" in generic.summary()


def test_vendor_layouts_refuse_a_file_without_any_email():
    with pytest.raises(DataLoadError, match="needs e-mail addresses and none of the 3"):
        crm.crm_file(_table(), "hubspot", None)
    assert crm.crm_file(_table(), "generic", None).with_contact == 0


def test_contacts_file_problems_are_named(tmp_path):
    with pytest.raises(DataLoadError, match="needs a customer_id and an email column"):
        _contacts(tmp_path, "id,mail\n1,a@b.co\n")
    with pytest.raises(DataLoadError, match="not addresses, e.g. 'not-an-address'"):
        _contacts(tmp_path, "customer_id,email\n1,not-an-address\n")
    with pytest.raises(DataLoadError, match="lists customer 1 more than once"):
        _contacts(tmp_path, "customer_id,email\n1,a@b.co\n1.0,c@d.co\n")
    with pytest.raises(DataLoadError, match="does not exist"):
        crm.read_contacts(tmp_path / "absent.csv")
    both = _contacts(tmp_path, "customer_id,email,first_name,last_name\n7,a@b.co,Jo,Doe\n")
    assert both.iloc[0].tolist() == ["7", "a@b.co", "Jo", "Doe"]


def test_crm_files_are_formula_safe(tmp_path):
    contacts = _contacts(tmp_path, "customer_id,email,name\n3,x@y.co,=cmd|' /C calc'!A0 Smith\n")
    out = crm.crm_file(_table(), "klaviyo", contacts)
    text = to_safe_csv(out.frame)
    assert "'=cmd" in text and "'=HYPERLINK" in text
    assert ",=" not in text


def test_mailchimp_text_is_clipped_to_255_bytes():
    table = _table().assign(recommended_action="é" * 200)  # 400 bytes
    contacts = pd.DataFrame(
        {"customer_id": ["1"], "email": ["a@b.co"], "first_name": [""], "last_name": [""]}
    )
    action = crm.crm_file(table, "mailchimp", contacts).frame["Recommended Action"].iloc[0]
    assert len(action.encode()) <= 255 and action == "é" * 127


def test_write_table_is_atomic_and_typed(tmp_path):
    frame = pd.DataFrame({"a": ["=1+1", "x"], "n": [-1.5, 2.0]})
    target = tmp_path / "out.csv"
    assert write_table(frame, target) == "csv"
    assert target.read_text() == "a,n\n'=1+1,-1.5\nx,2.0\n"
    assert write_table(frame, tmp_path / "out.parquet") == "parquet"
    assert pd.read_parquet(tmp_path / "out.parquet")["a"].tolist() == ["=1+1", "x"]
    with pytest.raises(ValueError, match="use csv or parquet"):
        write_table(frame, tmp_path / "out.xlsx")
    target.write_text("previous")
    bad = pd.DataFrame({"a": [object()]})  # parquet cannot store it: the old file stays
    with pytest.raises(Exception):  # noqa: B017,PT011 (pyarrow's own error type)
        write_table(bad, target, "parquet")
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.parquet"]


def test_an_all_blank_text_column_is_written():
    """The generic layout without contacts has an e-mail column with no value at all."""
    frame = pd.DataFrame({"email": pd.array([None, None], dtype="string"), "n": [1, 2]})
    assert to_safe_csv(frame) == "email,n\n,1\n,2\n"
