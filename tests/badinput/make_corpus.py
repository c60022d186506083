"""The bad-input file corpus: generated, never committed (a zip bomb is small on disk but is
still not something to keep in git).

``python tests/badinput/make_corpus.py OUT_DIR`` writes every file into OUT_DIR and prints what
each one is and what the loader must say about it. Tests call :func:`build`.

Each :class:`Case` says what ``dashapp.loading.load_transactions`` must do with the file:
``error`` = raise DataLoadError whose message contains every one of ``expect`` (case
insensitive) and names the file; ``ok`` = load, with ``expect`` listing texts that must survive
verbatim in the loaded description / country / customer columns (XSS and formula strings are
data: they are rendered as text and neutralised in CSV exports, never dropped or executed).
``upload`` marks files that also go through the upload page (.csv and .xlsx only).
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HEADER = [
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
]

#: Hostile text that must only ever be shown as text.
XSS_DESCRIPTION = '<img src=x onerror="window.__xss=1">'
XSS_COUNTRY = "<script>window.__xss=2</script>Atlantis"
XSS_TEXTS = (XSS_DESCRIPTION, XSS_COUNTRY, "<svg/onload=window.__xss=3>")
#: Text a spreadsheet would run as a formula if a CSV export wrote it raw.
FORMULA_TEXTS = (
    '=HYPERLINK("http://evil.example","x")',
    "+SUM(1;2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
)


@dataclass(frozen=True)
class Case:
    name: str  # file name in the corpus folder
    what: str  # what is wrong with it
    kind: str  # "error" or "ok"
    expect: tuple  # message fragments (error) or texts that must survive (ok)
    upload: bool = True


def _rows(
    n_customers: int = 30,
    lines_per_customer: int = 3,
    start_day: int = 1,
    descriptions=("WHITE HEART", "RED MUG"),
    countries=("United Kingdom", "France"),
    customers=None,
    seed: int = 0,
) -> list[list]:
    """Valid transaction rows in the Online Retail II layout (all in Jan-Feb 2011)."""
    rng = random.Random(seed)
    rows = []
    invoice = 540000
    ids = list(customers) if customers is not None else [str(12000 + i) for i in range(n_customers)]
    for i, cust in enumerate(ids):
        for j in range(lines_per_customer):
            invoice += 1
            day = start_day + (i * 7 + j * 11) % 50
            month, dom = (1, day) if day <= 31 else (2, day - 31)
            rows.append(
                [
                    str(invoice),
                    f"2{rng.randint(1000, 9999)}",
                    descriptions[(i + j) % len(descriptions)],
                    rng.randint(1, 24),
                    f"2011-{month:02d}-{dom:02d} {9 + j:02d}:{rng.randint(0, 59):02d}:00",
                    f"{rng.choice([0.85, 1.25, 2.55, 4.95, 12.75]):.2f}",
                    cust,
                    countries[i % len(countries)],
                ]
            )
    return rows


def _csv(rows, header=HEADER, sep=",", encoding="utf-8") -> bytes:
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def _xlsx(sheets: dict[str, list[list]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _bomb_member(size: int) -> bytes:
    line = b"1,2,3,4,5,6,7,8\n"
    return line * (size // len(line))


def _zip_bomb(member_name: str, size: int) -> bytes:
    """A zip whose one member inflates to ``size`` bytes (~500x smaller on disk). Written in
    chunks so building it never holds ``size`` bytes at once."""
    buf = io.BytesIO()
    chunk = _bomb_member(1 << 20)
    info = zipfile.ZipInfo(member_name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with (
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open(info, "w", force_zip64=True) as dst,
    ):
        for _ in range(size // len(chunk)):
            dst.write(chunk)
    return buf.getvalue()


def _xlsx_bomb(size: int) -> bytes:
    """A structurally plausible .xlsx whose worksheet XML inflates to ``size`` bytes."""
    import zipfile as zf_mod

    small = _xlsx({"Sheet1": [HEADER]})
    buf = io.BytesIO()
    with (
        zf_mod.ZipFile(io.BytesIO(small)) as src,
        zf_mod.ZipFile(buf, "w", compression=zf_mod.ZIP_DEFLATED, compresslevel=9) as dst,
    ):
        for info in src.infolist():
            if info.filename.endswith("sheet1.xml"):
                big = zf_mod.ZipInfo(info.filename)
                big.compress_type = zf_mod.ZIP_DEFLATED
                with dst.open(big, "w", force_zip64=True) as out:
                    out.write(
                        b'<?xml version="1.0"?><worksheet xmlns="http://schemas.'
                        b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                    )
                    pad = b"<!--" + b"x" * ((1 << 20) - 8) + b"-->"
                    for _ in range(size // len(pad)):
                        out.write(pad)
                    out.write(b"</sheetData></worksheet>")
            else:
                dst.writestr(info, src.read(info.filename))
    return buf.getvalue()


def _parquet(frame_dict: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(frame_dict), buf)
    return buf.getvalue()


def files(names=None) -> list[tuple[Case, bytes]]:
    """Every corpus file (or those in ``names``) with its expectation (bytes built in memory,
    all small)."""
    good = _rows()
    out: list[tuple[Case, bytes]] = []

    def add(name, what, kind, expect, data, upload=True):
        if names is None or name in names:
            out.append((Case(name, what, kind, tuple(expect), upload), data))

    # -- structure -----------------------------------------------------------------------
    add("empty.csv", "0 bytes", "error", ["empty"], b"")
    add("blank_lines.csv", "only blank lines", "error", ["empty"], b"\n\n  \n\r\n")
    add("header_only.csv", "a header and no rows", "error", ["no data rows"], _csv([]))
    add(
        "missing_columns.csv",
        "no Quantity, no Price",
        "error",
        ["missing required columns", "quantity", "price"],
        _csv(
            [r[:3] + [r[4], r[6], r[7]] for r in good],
            header=["Invoice", "StockCode", "Description", "InvoiceDate", "Customer ID", "Country"],
        ),
    )
    add(
        "missing_customer.csv",
        "no customer column",
        "error",
        ["missing required column", "customer_id"],
        _csv([r[:6] + [r[7]] for r in good], header=HEADER[:6] + ["Country"]),
    )
    add(
        "unrelated_table.csv",
        "a table of something else",
        "error",
        ["missing required"],
        b"name,age,city\nalice,31,Paris\nbob,42,Rome\n",
    )
    add(
        "ragged_rows.csv",
        "rows with more fields than the header",
        "error",
        ["csv"],
        _csv(good) + b"1,2,3,4,5,6,7,8,9,10,11\n" * 3,
    )
    # -- wrong types -----------------------------------------------------------------------
    bad_qty = [r[:] for r in good]
    bad_qty[4][3] = "twelve"
    add(
        "quantity_text.csv",
        "a quantity that is a word",
        "error",
        ["'Quantity'", "not a number", "twelve", "row 6"],
        _csv(bad_qty),
    )
    bad_price = [r[:] for r in good]
    bad_price[2][5] = "£1.2.3"
    add(
        "price_text.csv", "a malformed price", "error", ["'Price'", "not a number"], _csv(bad_price)
    )
    bad_date = [r[:] for r in good]
    bad_date[7][4] = "the day after tomorrow"
    add("date_text.csv", "a date that is prose", "error", ["'InvoiceDate'", "date"], _csv(bad_date))
    impossible = [r[:] for r in good]
    impossible[1][4] = "2011-02-30 10:00:00"
    add("date_impossible.csv", "30 February", "error", ["'InvoiceDate'", "date"], _csv(impossible))
    empty_qty = [r[:] for r in good]
    empty_qty[3][3] = ""
    add(
        "quantity_empty.csv", "an empty quantity", "error", ["'Quantity'", "empty"], _csv(empty_qty)
    )
    # -- silent misreadings (issue 13): refused with the column and rows, or read right ----
    day_first = [
        [*r[:4], f"{r[4][8:10]}/{r[4][5:7]}/{r[4][:4]} {r[4][11:16]}", *r[5:]] for r in good
    ]
    two_orders = [r[:] for r in day_first]
    two_orders[7][4] = "01/31/2011 10:00"
    add(
        "date_two_orders.csv",
        "day-first dates and one month-first date",
        "error",
        ["'InvoiceDate'", "1 month-first date while other dates are day-first", "row 9"],
        _csv(two_orders),
    )
    one_iso = [r[:] for r in day_first]
    one_iso[5][4] = good[5][4]
    add(
        "date_day_first_one_iso.csv",
        "day-first dates and one ISO date (read day-first, never swapped)",
        "ok",
        ["WHITE HEART"],
        _csv(one_iso),
    )
    far = [r[:] for r in good]
    far[2][4], far[4][4] = "1900-01-01 10:00:00", "2099-12-31 10:00:00"
    add(
        "date_out_of_range.csv",
        "dates in 1900 and 2099",
        "error",
        ["'InvoiceDate'", "2 dates outside 1990-01-01", "rows 4, 6"],
        _csv(far),
    )
    ambiguous = [[*r[:4], f"{i % 12 + 1:02d}/01/2011 10:00", *r[5:]] for i, r in enumerate(good)]
    add(
        "date_ambiguous.csv",
        "every day <= 12: read month-first by assumption (uploads ask instead)",
        "ok",
        ["WHITE HEART"],
        _csv(ambiguous),
        upload=False,
    )
    infinite = [r[:] for r in good]
    infinite[1][5], infinite[3][5], infinite[6][5] = "inf", "-Infinity", "1e308"
    add(
        "price_infinite.csv",
        "prices inf, -Infinity and 1e308",
        "error",
        ["'Price'", "3 values that are infinite", "rows 3, 5, 8"],
        _csv(infinite),
    )
    add(
        "no_customer_ids.csv",
        "a customer column with no value at all",
        "error",
        ["'Customer ID'", "empty in all 90 rows"],
        _csv([[*r[:6], "", r[7]] for r in good]),
    )
    # -- not text / not a table ---------------------------------------------------------------
    rng = random.Random(42)
    add(
        "binary_garbage.csv",
        "random bytes",
        "error",
        ["not a csv table", "binary"],
        bytes(rng.getrandbits(8) for _ in range(4096)),
    )
    add(
        "pdf_renamed.csv",
        "a PDF named .csv",
        "error",
        ["pdf"],
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
    )
    add(
        "png_renamed.xlsx",
        "a PNG named .xlsx",
        "error",
        ["not a valid excel workbook", "png"],
        b"\x89PNG\r\n\x1a\n" + bytes(64),
    )
    add(
        "damaged.xlsx",
        "a truncated zip named .xlsx",
        "error",
        ["not a valid excel workbook"],
        b"PK\x03\x04" + bytes(rng.getrandbits(8) for _ in range(512)),
    )
    add(
        "csv_named.xlsx",
        "a CSV file named .xlsx",
        "error",
        ["not a valid excel workbook"],
        _csv(good),
    )
    add(
        "unsupported.txt",
        "a .txt file",
        "error",
        ["unsupported file type", ".txt"],
        _csv(good),
        upload=False,
    )
    add(
        "no_extension",
        "no file extension",
        "error",
        ["unsupported file type"],
        _csv(good),
        upload=False,
    )
    add(
        "garbage.parquet",
        "bytes that are not parquet",
        "error",
        ["not a valid parquet"],
        b"PAR1" + bytes(100),
        upload=False,
    )
    add(
        "wrong_columns.parquet",
        "a parquet table of something else",
        "error",
        ["missing required"],
        _parquet({"a": [1, 2], "b": ["x", "y"]}),
        upload=False,
    )
    # -- encodings ---------------------------------------------------------------------------
    accented = _rows(descriptions=("CAFÉ AU LAIT BOWL", "CRÈME BRÛLÉE SET £"))
    add(
        "cp1252.csv",
        "Windows-1252 text (not UTF-8)",
        "ok",
        ["CAFÉ AU LAIT BOWL"],
        _csv(accented, encoding="cp1252"),
    )
    add(
        "utf16_bom.csv",
        "UTF-16 with a byte order mark",
        "ok",
        ["CRÈME BRÛLÉE SET £"],
        _csv(accented, encoding="utf-16"),
    )
    add(
        "utf8_bom_semicolon.csv",
        "UTF-8 BOM and ';' separators",
        "ok",
        ["CAFÉ AU LAIT BOWL"],
        b"\xef\xbb\xbf" + _csv(accented, sep=";"),
    )
    mixed = _csv(accented).replace("CRÈME".encode(), "CR\xc8ME".encode("latin-1"))
    add("mixed_encoding.csv", "UTF-8 with one Latin-1 byte", "ok", ["BOWL"], mixed)
    # -- archives ----------------------------------------------------------------------------
    add(
        "zip_bomb.zip",
        "a zip member that inflates ~500x to 64 MB",
        "error",
        ["zip bomb"],
        _zip_bomb("transactions.csv", 64 << 20),
        upload=False,
    )
    add(
        "xlsx_bomb.xlsx",
        "an .xlsx whose sheet XML inflates ~1000x to 64 MB",
        "error",
        ["zip bomb"],
        _xlsx_bomb(64 << 20),
    )
    add(
        "zip_two_tables.zip",
        "two tables in one zip",
        "error",
        ["several tables"],
        _zip({"a.csv": _csv(good), "b.csv": _csv(good)}),
        upload=False,
    )
    add(
        "zip_no_table.zip",
        "a zip with a text file only",
        "error",
        ["holds no table"],
        _zip({"readme.txt": b"hello"}),
        upload=False,
    )
    add(
        "zip_not_zip.zip",
        "text named .zip",
        "error",
        ["not a valid zip"],
        b"just text\n",
        upload=False,
    )
    add(
        "zip_in_zip.zip",
        "a zip inside a zip (one level is allowed)",
        "ok",
        ["WHITE HEART"],
        _zip({"inner.zip": _zip({"t.csv": _csv(good)})}),
        upload=False,
    )
    add(
        "zip_in_zip_bomb.zip",
        "a zip bomb inside a zip",
        "error",
        ["zip bomb"],
        _zip({"inner.zip": _zip_bomb("t.csv", 64 << 20)}),
        upload=False,
    )
    # -- Excel ----------------------------------------------------------------------------------
    add(
        "no_usable_sheet.xlsx",
        "sheets without the required columns",
        "error",
        ["no sheet with the required columns", "notes"],
        _xlsx(
            {
                "Notes": [["Remark", "Author"], ["hello", "me"]],
                "Pivot": [["Country", "Total"], ["France", 12]],
            }
        ),
    )
    add(
        "empty_sheets.xlsx",
        "only empty sheets",
        "error",
        ["no sheet with the required"],
        _xlsx({"Sheet1": [], "Sheet2": []}),
    )
    add(
        "header_only_sheet.xlsx",
        "a sheet with the header and no rows",
        "error",
        ["no data rows"],
        _xlsx({"Year 2011": [HEADER]}),
    )
    add(
        "excel_text_quantity.xlsx",
        "a quantity that is a word, in Excel",
        "error",
        ["'Quantity'", "not a number", "sheet"],
        _xlsx(
            {
                "Data": [HEADER]
                + [[*r[:3], "lots", *r[4:]] if i == 2 else r for i, r in enumerate(good)]
            }
        ),
    )
    # -- hostile but valid text ---------------------------------------------------------------------
    hostile = _rows(
        n_customers=40,
        descriptions=(XSS_DESCRIPTION, FORMULA_TEXTS[0], "PLAIN MUG"),
        countries=("United Kingdom", XSS_COUNTRY, "France", FORMULA_TEXTS[3]),
        customers=[
            *FORMULA_TEXTS,
            "<svg/onload=window.__xss=3>",
            *[str(13000 + i) for i in range(35)],
        ],
    )
    add(
        "hostile_text.csv",
        "XSS and spreadsheet-formula text in descriptions, countries and customer ids",
        "ok",
        [*XSS_TEXTS, *FORMULA_TEXTS],
        _csv(hostile),
    )
    add(
        "hostile_text.xlsx",
        "the same in Excel",
        "ok",
        [XSS_DESCRIPTION, FORMULA_TEXTS[1]],
        _xlsx({"Data": [HEADER] + hostile}),
    )
    # -- tiny but valid ----------------------------------------------------------------------------
    add(
        "one_customer.csv",
        "a single customer (fewer than any number of clusters)",
        "ok",
        ["12000"],
        _csv(_rows(n_customers=1, lines_per_customer=4)),
    )
    add(
        "one_day.csv",
        "every invoice on one day",
        "ok",
        ["WHITE HEART"],
        _csv([[*r[:4], "2011-03-01 10:00:00", *r[5:]] for r in _rows(n_customers=5)]),
    )
    return out


def build(target: Path, names=None) -> list[tuple[Case, Path]]:
    """Write the corpus (or the files in ``names``) into ``target``; returns (case, path)
    pairs."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for case, data in files(names):
        path = target / case.name
        path.write_bytes(data)
        written.append((case, path))
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    for case, path in build(Path(argv[0])):
        print(f"{case.name:<28} {path.stat().st_size:>9,} B  {case.kind:<5} {case.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
