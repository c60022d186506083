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
