"""Tables as CSV files people open in a spreadsheet, with no cell a spreadsheet would run.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by
Excel, LibreOffice and Google Sheets; a user-chosen model name such as `=HYPERLINK(...)` would then
run on the admin's machine (CSV injection, OWASP). Such text cells get a leading apostrophe, which
spreadsheets show as text; numbers stay numbers.
"""

from __future__ import annotations

import pandas as pd

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(neutralised)
    return safe.to_csv(index=False).encode("utf-8")
