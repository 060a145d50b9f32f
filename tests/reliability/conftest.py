"""The reliability battery's table: each battery test adds a row; the table is printed at the end
of the run (and written to .data/battery.md), so `./run_tests.sh tests/reliability` regenerates it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.conftest import PROJECT_ROOT


@dataclass
class BatteryRow:
    area: str
    cases: int = 0
    faults: int = 0
    acknowledged: int = 0  # turns whose submit returned to the user
    lost: int = 0  # acknowledged turns missing their message or their final reply
    duplicated: int = 0  # a message or reply stored twice
    cross_user: int = 0  # operations on another user's data that succeeded
    unexpected: int = 0  # errors that were not a clear message to the user
    notes: list[str] = field(default_factory=list)


_ROWS: list[BatteryRow] = []
# Every log line of the battery, stack traces included, for the canary check at its end.
BATTERY_LOG: list[str] = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        BATTERY_LOG.append(self.format(record))


@pytest.fixture(autouse=True)
def collect_battery_logs() -> Iterator[None]:
    handler = _Collect(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture
def battery_row(request: pytest.FixtureRequest) -> BatteryRow:
    row = BatteryRow(area=request.node.get_closest_marker("battery_area").args[0])
    _ROWS.append(row)
    return row


def render_table(rows: list[BatteryRow]) -> str:
    header = (
        "| area | cases | faults injected | turns acknowledged | lost | duplicated "
        "| cross-user successes | unexpected errors |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row.area} | {row.cases} | {row.faults} | {row.acknowledged} | {row.lost} | "
            f"{row.duplicated} | {row.cross_user} | {row.unexpected} |"
        )
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    table = render_table(_ROWS)
    terminalreporter.write_sep("=", "reliability battery")
    terminalreporter.write_line(table)
    output = PROJECT_ROOT / ".data" / "battery.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table + "\n")
