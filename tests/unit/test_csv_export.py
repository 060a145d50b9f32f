import pandas as pd

from components.csv_export import csv_bytes


def test_text_cells_a_spreadsheet_would_run_are_shown_as_text() -> None:
    frame = pd.DataFrame(
        {
            "model": ['=HYPERLINK("https://evil","x")', "+1+1", "-2", "@SUM(A1)", "\tx", "plain-name"],
            "replies": [1, 2, -3, 4, 5, 6],
        }
    )
    lines = csv_bytes(frame).decode().splitlines()
    assert lines[1].startswith("\"'=HYPERLINK(")
    assert [line.split(",")[0] for line in lines[2:]] == ["'+1+1", "'-2", "'@SUM(A1)", "'\tx", "plain-name"]
    assert lines[3].endswith(",-3")  # numbers stay numbers, negative ones too
