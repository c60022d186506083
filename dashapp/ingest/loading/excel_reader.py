"""Excel reader (.xlsx, .xlsm, .xls) with python-calamine.

Every sheet holding the required columns is read, below any title rows, and the sheets are
concatenated in sheet order. Cells are factorized a chunk of rows at a time, never kept as one
Python object per cell for a whole sheet.
"""

from __future__ import annotations

import contextlib
import itertools
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from dashapp.ingest import schema
from dashapp.ingest.errors import DataLoadError
from dashapp.ingest.loading.columns import _describe_missing, _Labelled, _Piece, _Raw
from dashapp.ingest.loading.formats import _sniff_binary
from dashapp.ingest.loading.zip_reader import _check_archive
from dashapp.ingest.schema import REQUIRED_COLUMNS

_HEADER_SCAN_ROWS = 20


def _scan_head(rows_iter, max_blank: int = 10_000) -> tuple[list[list], list[int]]:
    """First rows of a sheet for header detection: skips leading blank rows (at most
    ``max_blank``), then returns up to _HEADER_SCAN_ROWS rows and their 0-based positions."""
    head: list[list] = []
    pos: list[int] = []
    for i, row in enumerate(rows_iter):
        row = list(row)
        if not head and not any(str(v).strip() for v in row):
            if i >= max_blank:
                break
            continue
        head.append(row)
        pos.append(i)
        if len(head) >= _HEADER_SCAN_ROWS:
            break
    return head, pos


def _factorize_rows(
    rows, mapping: dict[str, int], width: int, chunk: int = 1 << 16
) -> tuple[dict[str, _Labelled], int]:
    """Factorize the mapped columns of an iterator of row lists, ``chunk`` rows at a time.

    Only one chunk of per-cell Python objects is alive at once (a 540k-row sheet as Python
    lists would take ~300 MB). Returns ({canonical: _Labelled}, number of rows).
    """
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in mapping}
    n = 0
    while block := list(itertools.islice(rows, chunk)):
        try:
            arr = np.array(block, dtype=object)
            if arr.ndim != 2 or arr.shape[1] < width:
                raise ValueError
        except ValueError:  # ragged rows: pad with empty cells
            arr = np.empty((len(block), width), dtype=object)
            arr[:] = ""
            for i, r in enumerate(block):
                arr[i, : min(len(r), width)] = list(r)[:width]
        for canon, j in mapping.items():
            codes, uniques = pd.factorize(arr[:, j], use_na_sentinel=True)
            parts[canon].append((codes, np.asarray(uniques, dtype=object)))
        n += len(block)
        del arr, block
    return {c: _merge_labels(p) for c, p in parts.items()}, n


def _merge_labels(parts: list[tuple[np.ndarray, np.ndarray]]) -> _Labelled:
    """Concatenate factorized pieces (uniques may repeat across pieces: merged later)."""
    if len(parts) == 1:
        return _Labelled(*parts[0])
    codes, uniques, offset = [], [], 0
    for c, u in parts:
        codes.append(np.where(c >= 0, c + offset, -1))
        uniques.append(u)
        offset += len(u)
    if not codes:
        return _Labelled(np.array([], dtype=np.intp), np.array([], dtype=object))
    return _Labelled(np.concatenate(codes), np.concatenate(uniques))


def _open_workbook(p: Path, name: str):
    """Check that ``p`` is a workbook (.xlsx/.xlsm: zip signature and archive limits) and open
    it with calamine."""
    import python_calamine

    with open(p, "rb") as fh:
        head = fh.read(8)
    if p.suffix.lower() != ".xls":
        if not head.startswith(b"PK\x03\x04"):
            what = _sniff_binary(head)
            extra = f" (it looks like {what})" if what else ""
            raise DataLoadError(f"{name} is not a valid Excel workbook{extra}.", path=name)
        try:
            with zipfile.ZipFile(p) as zf:
                _check_archive(zf, name)
        except zipfile.BadZipFile:
            raise DataLoadError(
                f"{name} is not a valid Excel workbook (damaged zip).", path=name
            ) from None
    try:
        return python_calamine.CalamineWorkbook.from_path(str(p))
    except python_calamine.PasswordError:
        raise DataLoadError(
            f"{name} is password protected; save it without a password.", path=name
        ) from None
    except Exception as e:  # calamine raises several unrelated types for broken files
        raise DataLoadError(f"{name} is not a valid Excel workbook: {e}", path=name) from None


def _find_header(
    head_rows: list[list], column_map: dict[str, str] | None, source: str | None = None
) -> tuple[int | None, dict[str, int], tuple[int, int, dict[str, int]]]:
    """The first of ``head_rows`` holding every required column: (its index, its mapping, best),
    else (None, {}, best); best = (score, index, mapping) of the row matching most of them."""
    hdr_idx, mapping = None, {}
    best = (-1, 0, {})
    for i, row in enumerate(head_rows):
        m = schema.match_headers(row, column_map, source)
        score = sum(c in m for c in REQUIRED_COLUMNS)
        if score > best[0]:
            best = (score, i, m)
        if score == len(REQUIRED_COLUMNS):
            hdr_idx, mapping = i, m
            break
    return hdr_idx, mapping, best


def _read_excel(p: Path, name: str, column_map: dict[str, str] | None) -> _Raw:
    wb = _open_workbook(p, name)
    found: list[str] = []
    sheet_cols: list[dict[str, _Labelled]] = []
    pieces: list[_Piece] = []
    headers_out: dict[str, str] = {}
    best_miss: tuple[int, str, list, dict] | None = None
    start = 0
    try:
        sheet_names = list(wb.sheet_names)
        for sheet_name in sheet_names:
            try:
                sheet = wb.get_sheet_by_name(sheet_name)
                rows_iter = iter(sheet.iter_rows())  # from A1, blank rows included
                head_rows, head_pos = _scan_head(rows_iter)
            except Exception as e:
                found.append(f"'{sheet_name}' (unreadable: {e})")
                continue
            if not head_rows:
                found.append(f"'{sheet_name}' (empty)")
                continue
            hdr_idx, mapping, best = _find_header(
                head_rows, column_map, f"{name}, sheet '{sheet_name}'"
            )
            if hdr_idx is None:
                score, i, m = best
                shown = [str(v) for v in head_rows[i] if str(v).strip()][:10]
                found.append(f"'{sheet_name}' (columns: {', '.join(shown) if shown else 'none'})")
                if best_miss is None or score > best_miss[0]:
                    best_miss = (score, sheet_name, head_rows[i], m)
                del sheet, rows_iter
                continue
            found.append(f"'{sheet_name}'")
            header = head_rows[hdr_idx]
            for canon, j in mapping.items():
                headers_out.setdefault(canon, str(header[j]).strip())
            data_iter = itertools.chain(head_rows[hdr_idx + 1 :], rows_iter)
            first_row = head_pos[hdr_idx] + 2  # 1-based row of the header, plus one
            cols, n = _factorize_rows(data_iter, mapping, len(header))
            del sheet, rows_iter, data_iter  # free calamine's copy of the sheet before the next
            if n == 0:
                continue
            sheet_cols.append(cols)
            pieces.append(_Piece(sheet_name, start, n, first_row))
            start += n
    finally:
        with contextlib.suppress(Exception):
            wb.close()

    if not pieces:
        raise _no_sheet_error(name, found, best_miss, column_map)
    columns = _concat_sheets(sheet_cols, pieces)
    return _Raw(name=name, n=start, columns=columns, headers=headers_out, pieces=pieces)


def _no_sheet_error(
    name: str,
    found: list[str],
    best_miss: tuple[int, str, list, dict] | None,
    column_map: dict[str, str] | None,
) -> DataLoadError:
    """The error for a workbook without data in a sheet holding the required columns."""
    usable = [f for f in found if "(" not in f]
    if usable:
        return DataLoadError(
            f"{name}: the sheet(s) {', '.join(usable)} have the columns but no data rows.",
            path=name,
        )
    if not found:
        return DataLoadError(f"{name} holds no sheets.", path=name)
    detail = ""
    if best_miss is not None:
        _, sname, _hdrs, m = best_miss
        detail = f" Closest: sheet '{sname}', {_describe_missing(m, column_map)}."
    return DataLoadError(
        f"{name} has no sheet with the required columns "
        f"({', '.join(REQUIRED_COLUMNS)}). Sheets found: {'; '.join(found)}.{detail}",
        path=name,
        column=None,
    )


def _concat_sheets(
    sheet_cols: list[dict[str, _Labelled]], pieces: list[_Piece]
) -> dict[str, _Labelled]:
    """The columns of all sheets, concatenated in sheet order."""
    # a column present in one sheet but not another (optional ones) is filled with missing
    all_cols = set().union(*sheet_cols)
    columns: dict[str, _Labelled] = {}
    for canon in all_cols:
        columns[canon] = _merge_labels(
            [
                (c[canon].codes, c[canon].uniques)
                if canon in c
                else (np.full(piece.n, -1, dtype=np.intp), np.array([], dtype=object))
                for c, piece in zip(sheet_cols, pieces, strict=True)
            ]
        )
    return columns
