import pandas as pd

from dashapp.service.exports import csv_download, neutralise_formulas, to_safe_csv


def test_formula_cells_are_neutralised_numbers_left_alone():
    df = pd.DataFrame(
        {
            "customer_id": ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "12345", None],
            "amount": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    safe = neutralise_formulas(df)
    assert safe["customer_id"].tolist()[:5] == [
        '\'=HYPERLINK("x")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "12345",
    ]
    assert pd.isna(safe["customer_id"].iloc[5])
    assert safe["amount"].tolist() == df["amount"].tolist()
    text = to_safe_csv(df)
    assert "\n\"'=HYPERLINK" in text and "\n12345,4.0" in text


def test_csv_download_sends_the_safe_csv_under_its_name():
    df = pd.DataFrame({"customer_id": ["=cmd()", "12345"], "amount": [1.5, 2.0]})
    payload = csv_download(df, "rfm_customers.csv")
    assert payload["filename"] == "rfm_customers.csv" and payload["type"] == "text/csv"
    assert payload["content"] == to_safe_csv(df)
    assert payload["content"].splitlines()[1] == "'=cmd(),1.5"  # neutralised, not a formula


def test_full_width_small_form_and_hidden_formula_signs_are_neutralised():
    risky = [
        "＝1+1",
        "＋1",
        "－2",
        "＠SUM(A1)",
        "﹦1+1",
        " =1+1",
        "\u200b=1+1",
        "\ufeff@x",
        "\u3000＝1",
    ]
    plain = ["1＝1", "a=b", "＄100", "Ｆ", "", "  ", "12345"]
    safe = neutralise_formulas(pd.DataFrame({"text": risky + plain}))["text"].tolist()
    assert safe[: len(risky)] == ["'" + t for t in risky]
    assert safe[len(risky) :] == plain


def test_the_notes_lead_the_file_as_comment_lines_on_one_line_each():
    import io

    df = pd.DataFrame({"customer_id": ["1", "2"], "monetary": [1.5, 2.0]})
    payload = csv_download(df, "x.csv", notes=["RFM: 2 customers", "Dataset a\nb"])
    lines = payload["content"].splitlines()
    assert lines[:3] == ["# RFM: 2 customers", "# Dataset a b", "customer_id,monetary"]
    back = pd.read_csv(io.StringIO(payload["content"]), comment="#", dtype={"customer_id": str})
    assert back.equals(df)


def test_a_grid_export_has_the_grids_columns_units_and_a_telling_name():
    import datetime as dt

    from dashapp.web.components import money_column, number_column
    from dashapp.web.components.exporting import export_filename, grid_export

    table = pd.DataFrame({"customer_id": ["1"], "recency": [3], "monetary": [9.5], "pc1": [0.1]})
    columns = [{"field": "customer_id", "headerName": "Customer"},
               money_column("monetary", "Monetary", "GBP "), number_column("recency", "Recency (days)")]  # fmt: skip
    payload = grid_export(table, columns, title="RFM", page="rfm", dataset="shop",
                          start="2011-01-01", countries="France,EIRE", currency="GBP ",
                          as_of="2011-12-10", selection="Segment: Champions")  # fmt: skip
    lines = payload["content"].splitlines()
    assert lines[-2] == "customer_id,monetary,recency"  # the grid's order, not the table's
    assert "# Dataset shop; dates 2011-01-01 to last day; countries: France, EIRE" in lines
    assert "# As of 2011-12-10" in lines and "# Selection: Segment: Champions" in lines
    assert any("monetary = Monetary (GBP)" in line and "Recency (days)" in line for line in lines)
    assert export_filename("my shop/2011", "clv", dt.date(2026, 11, 30)) == (
        "my_shop_2011_clv_2026-11-30.csv"
    )
