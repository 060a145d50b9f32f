"""Previews and search snippets read as text: Markdown syntax goes, the words and spaces stay."""

import uuid
from datetime import UTC, datetime

from components.history_list import snippet_markdown
from components.markup import markdown_as_text, plain_piece
from services.chat_files import export_file_name
from services.history import HistoryItem


def test_markdown_syntax_reads_as_its_words() -> None:
    written = "## Plan\nDay one: **Alfama** and the [castle](https://example.com), then `tram 28`.\n- fado"
    assert markdown_as_text(written) == "Plan\nDay one: Alfama and the castle, then tram 28.\nfado"


def test_a_piece_keeps_the_spaces_that_join_it_to_its_neighbours() -> None:
    assert plain_piece(" grew 12% over ") == " grew 12\\% over "
    assert plain_piece("   ") == " "


def test_a_search_snippet_keeps_the_space_after_a_highlighted_word() -> None:
    item = HistoryItem(
        id=uuid.uuid4(),
        title="Revenue",
        model_endpoint=None,
        message_count=2,
        updated_at=datetime.now(UTC),
        pinned=False,
        archived=False,
        last_message_preview=None,
        snippet=[("Revenue", True), (" grew **12%** over", False)],
    )
    assert snippet_markdown(item) == "**Revenue** grew 12\\% over"


def test_export_file_names_are_words_joined_by_single_hyphens() -> None:
    assert export_file_name("Q3 -- revenue: (draft) / v2!", "md") == "q3-revenue-draft-v2.md"
    assert export_file_name("???", "json") == "chat.json"
