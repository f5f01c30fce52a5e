"""Every CSV and Excel download goes through one rule: text that a spreadsheet would run as a formula
(names, tags and descriptions come from clouds and people) is written as text; numbers stay numbers."""

from io import BytesIO

from openpyxl import load_workbook

from apps.core.pages import csv_response, spreadsheet_text, xlsx_response

ROWS = [["name", "amount"], ["=HYPERLINK(\"http://evil.example\",\"x\")", 12.5], ["+1-2", -3], ["@SUM(A1)", 0],
        ["-cmd", 1], ["\tx", 2], ["plain", 4]]


def test_formula_like_text_gets_an_apostrophe_and_numbers_do_not():
    assert [spreadsheet_text(v) for v in ("=1+1", "+1", "-1", "@a", "\tb", "\rc", "a=b", "", -1, 2.5, None)] == \
        ["'=1+1", "'+1", "'-1", "'@a", "'\tb", "'\rc", "a=b", "", -1, 2.5, None]


def test_csv_downloads_write_formula_like_cells_as_text():
    body = csv_response(ROWS, "t.csv").content.decode().splitlines()
    assert body[1].startswith("\"'=HYPERLINK(") and body[2] == "'+1-2,-3" and body[3] == "'@SUM(A1),0"
    assert body[4] == "'-cmd,1" and body[-1] == "plain,4"


def test_excel_downloads_store_formula_like_cells_as_text_and_numbers_as_numbers():
    book = load_workbook(BytesIO(xlsx_response(ROWS, "t.xlsx").content))
    cells = [[c.value for c in row] for row in book.active.iter_rows()]
    assert cells[1] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", 12.5]
    assert [type(r[1]) for r in cells[1:]] == [float, int, int, int, int, int]
    assert all(book.active.cell(row=i, column=1).data_type == "s" for i in range(2, len(ROWS) + 1))
