"""Where a py-spy profile's samples went, by kind of work: what bench/load/run_load.py --profile wrote.

    .venv/bin/python bench/load/profile_summary.py bench/results/profile-app-N10.txt
    .venv/bin/python bench/load/profile_summary.py bench/results/profile-*.txt --markdown profiles.md

Each sample is one stack (py-spy's raw format: frames separated by ';', then a count). A sample is
put in the first category, in the order below, that one of its frames matches, so "database driver"
means "anywhere under the driver", even when SQLAlchemy called it.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

# (category, pattern matched against each frame); first match over the categories' order wins.
PAGE_FILES = "|".join(path.name for path in (Path(__file__).resolve().parents[2] / "app_pages").glob("*.py"))


def _under(*folders: str) -> re.Pattern[str]:
    """A frame whose file is under one of these folders: py-spy writes `function (folder/file.py:line)`,
    with site-packages and the project root left off."""
    return re.compile(r"\((?:[^()]*/)?(?:" + "|".join(folders) + r")/")


MODEL_STREAM = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "services/model_clients")
SCRIPT_RUN = (
    "streamlit/elements",
    "streamlit/runtime/scriptrunner",
    "streamlit/navigation",
    "google/protobuf",
)
SERVER = ("streamlit", "tornado", "uvicorn", "starlette", "asyncio")
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("garbage collection", re.compile(r"postScriptGC|^collect \(|;collect \(")),
    ("database driver (pg8000 / psycopg)", _under("pg8000", "psycopg", "psycopg_binary", "psycopg_pool")),
    ("SQLAlchemy (outside the driver)", _under("sqlalchemy")),
    ("model stream (openai, httpx, SSE parsing)", _under(*MODEL_STREAM)),
    ("app page code (pages, components)", re.compile(r"\((?:components/|Home\.py|(?:" + PAGE_FILES + r"):)")),
    ("app services", _under("services", "persistence")),
    ("Streamlit script run (elements, protobuf)", _under(*SCRIPT_RUN)),
    ("Streamlit server (websocket, sessions)", _under(*SERVER)),
]
OTHER = "other"
OWN_CODE = re.compile(r"\((?:components/|services/|persistence/|Home\.py|(?:" + PAGE_FILES + r"):)")


def categorise(lines: list[str]) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    total = 0
    by_category: collections.Counter[str] = collections.Counter()
    app_functions: collections.Counter[str] = collections.Counter()
    for line in lines:
        line = line.rstrip()
        if not line or " " not in line:
            continue
        stack, count_text = line.rsplit(" ", 1)
        count = int(count_text)
        total += count
        frames = stack.split(";")
        category = next(
            (name for name, pattern in CATEGORIES if any(pattern.search(frame) for frame in frames)),
            OTHER,
        )
        by_category[category] += count
        # The innermost frame of the app's own code: which of our functions the time is under.
        own = [f for f in frames if OWN_CODE.search(f)]
        if own:
            app_functions[own[-1]] += count
    return total, by_category, app_functions


def summary_markdown(path: Path, *, top: int) -> str:
    total, by_category, app_functions = categorise(path.read_text().splitlines())
    if not total:
        return f"### {path.stem}\n\nno samples\n"
    lines = [
        f"### {path.stem}",
        "",
        f"{total} samples holding the GIL",
        "",
        "| kind of work | share |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {100 * count / total:.0f}% |" for name, count in by_category.most_common()]
    if app_functions:
        lines += ["", f"The app's innermost functions (share of all samples), top {top}:", ""]
        lines += [f"- {100 * count / total:.1f}% `{name}`" for name, count in app_functions.most_common(top)]
    return "\n".join(lines) + "\n"


def profiles_markdown(paths: list[Path], *, top: int) -> str:
    """One document with every profile's summary: what run_load.py --profile writes as profiles.md."""
    return "# Where the servers' time went, by round (bench/load/run_load.py --profile)\n\n" + "\n".join(
        summary_markdown(path, top=top) for path in paths
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profiles", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=15, help="how many of the app's functions to list")
    parser.add_argument("--markdown", type=Path, help="write every summary to this Markdown file too")
    arguments = parser.parse_args()
    document = profiles_markdown(arguments.profiles, top=arguments.top)
    print(document)
    if arguments.markdown:
        arguments.markdown.write_text(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
