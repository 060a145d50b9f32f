"""History: lists, keyset pages, search, tidying, export and import, all scoped to their owner."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from persistence.database import unit_of_work
from persistence.orm import ChatMessageRow, ChatRequestRow, ChatSessionRow, FeedbackRow
from services.chat_files import ChatFiles, InvalidImport
from services.errors import SessionNotFound
from services.history import (
    DELETE_UNDO_SECONDS,
    ArchiveFilter,
    HistoryService,
    InvalidTitle,
    SessionFilters,
    UndoTooLate,
)
from tests.integration.helpers import ALICE, BOB
from tests.seed import add_session

pytestmark = pytest.mark.integration

ACTIVE = SessionFilters()


# The endpoints this stand-in app may use; an imported chat keeps its endpoint only if it is one.
ALLOWED_ENDPOINTS = {"model-a", "model-z"}


@pytest.fixture
def history(sessions) -> HistoryService:
    return HistoryService(transactions=sessions)


@pytest.fixture
def files(sessions) -> ChatFiles:
    return ChatFiles(transactions=sessions, endpoint_allowed=ALLOWED_ENDPOINTS.__contains__)


def test_the_list_is_newest_first_with_pinned_on_top_and_counts(sessions, history) -> None:
    now = datetime.now(UTC)
    old = add_session(sessions, ALICE.email, "Old", ["a", "b"], updated=now - timedelta(days=3))
    new = add_session(sessions, ALICE.email, "New", ["a", "b", "c"], updated=now - timedelta(hours=1))
    pinned = add_session(sessions, ALICE.email, "Pinned", ["x"], updated=now - timedelta(days=9))
    history.set_pinned(ALICE, pinned, True)
    page = history.list_page(ALICE, ACTIVE)
    assert [i.id for i in page.pinned] == [pinned]
    assert [i.id for i in page.items] == [new, old]
    assert (page.items[0].message_count, page.items[0].last_message_preview) == (3, "c")


def test_keyset_pages_stay_stable_while_new_sessions_arrive(sessions, history) -> None:
    now = datetime.now(UTC)
    ids = [
        add_session(sessions, ALICE.email, f"S{i}", ["m"], updated=now - timedelta(minutes=i))
        for i in range(7)
    ]
    first = history.list_page(ALICE, ACTIVE, page_size=3)
    assert [i.id for i in first.items] == ids[:3]
    add_session(sessions, ALICE.email, "Arrived meanwhile", ["m"], updated=now + timedelta(minutes=1))
    second = history.list_page(ALICE, ACTIVE, after=first.next_cursor, page_size=3)
    third = history.list_page(ALICE, ACTIVE, after=second.next_cursor, page_size=3)
    assert [i.id for i in second.items] == ids[3:6]
    assert [i.id for i in third.items] == ids[6:]
    assert third.next_cursor is None


def test_list_filters_by_archive_state_model_and_date(sessions, history) -> None:
    now = datetime.now(UTC)
    a = add_session(sessions, ALICE.email, "A", ["m"], model="model-a", updated=now - timedelta(days=10))
    b = add_session(sessions, ALICE.email, "B", ["m"], model="model-b", updated=now)
    history.set_archived(ALICE, a, True)
    assert [i.id for i in history.list_page(ALICE, ACTIVE).items] == [b]
    assert [
        i.id for i in history.list_page(ALICE, SessionFilters(archived=ArchiveFilter.ARCHIVED)).items
    ] == [a]
    assert len(history.list_page(ALICE, SessionFilters(archived=ArchiveFilter.ALL)).items) == 2
    by_model = SessionFilters(archived=ArchiveFilter.ALL, model="model-a")
    assert [i.id for i in history.list_page(ALICE, by_model).items] == [a]
    recent = SessionFilters(archived=ArchiveFilter.ALL, updated_from=now - timedelta(days=1))
    assert [i.id for i in history.list_page(ALICE, recent).items] == [b]
    assert history.models_used(ALICE) == ["model-a", "model-b"]
    history.set_archived(ALICE, a, False)
    assert len(history.list_page(ALICE, ACTIVE).items) == 2


def test_search_finds_words_in_messages_and_titles_with_a_highlighted_snippet(sessions, history) -> None:
    lakes = add_session(
        sessions, ALICE.email, "Weekend plans", ["Which lakes are good for swimming?", "Try Como."]
    )
    titled = add_session(
        sessions, ALICE.email, "Swimming technique", ["How do I breathe?", "Every third stroke."]
    )
    add_session(sessions, ALICE.email, "Taxes", ["Deadline for filing?", "April."])
    hits = history.search(ALICE, "swimming", ACTIVE)
    assert {h.id for h in hits} == {lakes, titled}
    lake_hit = next(h for h in hits if h.id == lakes)
    assert ("swimming", True) in lake_hit.snippet
    assert "".join(text for text, _ in lake_hit.snippet).startswith("Which lakes are good for swimming")
    assert history.search(ALICE, "volcano", ACTIVE) == []


def test_search_understands_phrases_and_exclusions(sessions, history) -> None:
    exact = add_session(sessions, ALICE.email, "One", ["the quick brown fox"])
    add_session(sessions, ALICE.email, "Two", ["brown quick fox"])
    both = history.search(ALICE, "quick fox", ACTIVE)
    assert len(both) == 2
    assert [h.id for h in history.search(ALICE, '"quick brown fox"', ACTIVE)] == [exact]
    assert [h.id for h in history.search(ALICE, "fox -brown", ACTIVE)] == []
    assert [h.id for h in history.search(ALICE, 'fox -"quick brown"', ACTIVE)] != [exact]


@pytest.mark.parametrize(
    "query", ["%", "_", "100%", "a_b", "'", '"', "\\", "O'Brien\\", "(", "&|!", "--", "<->"]
)
def test_special_characters_never_fail_and_are_not_wildcards(sessions, history, query) -> None:
    add_session(sessions, ALICE.email, "Anything", ["percent sign and underscore here", "ok"])
    result = history.search(ALICE, query, ACTIVE)
    assert result is None or result == []


def test_an_empty_or_stop_word_query_means_the_plain_list(history) -> None:
    for query in ("", "   ", "the", "and or"):
        assert history.search(ALICE, query, ACTIVE) is None


def test_search_respects_filters(sessions, history) -> None:
    a = add_session(sessions, ALICE.email, "A", ["kayak trip"], model="model-a")
    b = add_session(sessions, ALICE.email, "B", ["kayak rental"], model="model-b")
    history.set_archived(ALICE, b, True)
    assert [h.id for h in history.search(ALICE, "kayak", ACTIVE)] == [a]
    archived = SessionFilters(archived=ArchiveFilter.ARCHIVED)
    assert [h.id for h in history.search(ALICE, "kayak", archived)] == [b]
    assert [
        h.id
        for h in history.search(ALICE, "kayak", SessionFilters(archived=ArchiveFilter.ALL, model="model-b"))
    ] == [b]


def test_another_user_sees_and_touches_nothing_of_alices(sessions, history, files) -> None:
    alices = add_session(sessions, ALICE.email, "Alice secret plan", ["secret plan details"])
    assert history.list_page(BOB, SessionFilters(archived=ArchiveFilter.ALL)).items == []
    assert history.search(BOB, "secret", SessionFilters(archived=ArchiveFilter.ALL)) == []
    assert history.models_used(BOB) == []
    missing = uuid.uuid4()
    for session_id in (alices, missing):
        for action in (
            lambda sid: history.rename(BOB, sid, "mine now"),
            lambda sid: history.set_pinned(BOB, sid, True),
            lambda sid: history.set_archived(BOB, sid, True),
            lambda sid: history.delete(BOB, sid),
            lambda sid: files.export_json(BOB, sid),
            lambda sid: files.export_markdown(BOB, sid),
        ):
            with pytest.raises(SessionNotFound) as caught:
                action(session_id)
            assert str(caught.value) == SessionNotFound.user_message  # the same answer for both
    assert list(files.export_all_jsonl(BOB)) == []
    page = history.list_page(ALICE, ACTIVE)
    assert [(i.title, i.pinned, i.archived) for i in page.items] == [("Alice secret plan", False, False)]


def test_an_import_always_lands_in_the_importers_own_history(sessions, history, files) -> None:
    alices = add_session(sessions, ALICE.email, "Alice's", ["hello"])
    exported = files.export_json(ALICE, alices)
    imported = files.import_json(BOB, exported)
    assert imported != alices
    assert [i.id for i in history.list_page(BOB, ACTIVE).items] == [imported]
    assert [i.id for i in history.list_page(ALICE, ACTIVE).items] == [alices]


def test_rename_validates_and_marks_the_title_as_the_users(sessions, history) -> None:
    session_id = add_session(sessions, ALICE.email, "Auto title", ["m"])
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(InvalidTitle):
            history.rename(ALICE, session_id, bad)
    history.rename(ALICE, session_id, "  My   trip\nnotes ")
    with unit_of_work(sessions) as db:
        row = db.get(ChatSessionRow, session_id)
        assert (row.title, row.title_is_custom) == ("My trip notes", True)


def test_delete_removes_the_session_messages_requests_and_feedback(sessions, history) -> None:
    session_id = add_session(sessions, ALICE.email, "Doomed", ["q", "a"])
    with unit_of_work(sessions) as db:
        messages = db.scalars(select(ChatMessageRow).where(ChatMessageRow.session_id == session_id)).all()
        db.add(
            ChatRequestRow(
                session_id=session_id, user_id=ALICE.email, user_message_id=messages[0].id, status="complete"
            )
        )
        db.add(FeedbackRow(message_id=messages[1].id, user_id=ALICE.email, rating=1))
        db.commit()
    keep = add_session(sessions, ALICE.email, "Kept", ["q"])
    history.delete(ALICE, session_id)
    assert [item.id for item in history.list_page(ALICE, ACTIVE).items] == [keep]  # gone from every list
    with pytest.raises(SessionNotFound):
        history.rename(ALICE, session_id, "still there?")
    assert history.purge_deleted() == 0  # restorable for DELETE_UNDO_SECONDS
    _deleted_minutes_ago(sessions, session_id, 11)
    assert history.purge_deleted() == 1
    with unit_of_work(sessions) as db:
        for model in (ChatMessageRow, ChatRequestRow, FeedbackRow):
            remaining = db.scalar(select(func.count()).select_from(model).where(model.id.is_not(None)))
            assert remaining == (1 if model is ChatMessageRow else 0)
        assert db.get(ChatSessionRow, session_id) is None
        assert db.get(ChatSessionRow, keep) is not None


def stored_document(sessions, session_id: uuid.UUID) -> tuple[dict, list[dict]]:
    """What the database holds, read with plain SQL, independent of the export code."""
    with unit_of_work(sessions) as db:
        session = (
            db.execute(text("SELECT * FROM chat_session WHERE id = :id"), {"id": session_id}).mappings().one()
        )
        messages = (
            db.execute(
                text("SELECT * FROM chat_message WHERE session_id = :id ORDER BY seq"), {"id": session_id}
            )
            .mappings()
            .all()
        )
        return dict(session), [dict(m) for m in messages]


def test_json_export_holds_exactly_what_is_stored(sessions, history, files) -> None:
    session_id = add_session(sessions, ALICE.email, "Export me", ["Q: *markdown* & <b>", "A: ünïcødé 👋"])
    document = json.loads(files.export_json(ALICE, session_id))
    session, messages = stored_document(sessions, session_id)
    assert document["format"] == "lakebase-chat.session"
    assert document["version"] == 1
    assert document["session"]["title"] == session["title"]
    assert document["session"]["model_endpoint"] == session["model_endpoint"]
    assert datetime.fromisoformat(document["session"]["created_at"]) == session["created_at"]
    assert len(document["messages"]) == len(messages)
    for exported, stored in zip(document["messages"], messages, strict=True):
        for key in (
            "seq",
            "role",
            "content",
            "status",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
        ):
            assert exported[key] == stored[key]
        assert datetime.fromisoformat(exported["created_at"]) == stored["created_at"]


def test_markdown_export_has_every_message_in_order(sessions, history, files) -> None:
    session_id = add_session(sessions, ALICE.email, "Trip", ["Where to?", "Lisbon.", "When?", "May."])
    markdown = files.export_markdown(ALICE, session_id)
    assert markdown.startswith("# Trip\n")
    positions = [markdown.index(f"\n{text}\n") for text in ("Where to?", "Lisbon.", "When?", "May.")]
    assert positions == sorted(positions)
    assert markdown.count("## You") == 2
    assert markdown.count("## Assistant") == 2
    # Times read as a person writes them, not as ISO timestamps.
    started = next(line for line in markdown.splitlines() if line.startswith("- Started: "))
    assert re.fullmatch(r"- Started: \d\d [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC", started)


def test_import_of_an_export_round_trips_exactly(sessions, history, files) -> None:
    original = add_session(sessions, ALICE.email, "Round trip", ["one", "two", "three"], model="model-z")
    history.set_pinned(ALICE, original, True)
    exported = json.loads(files.export_json(ALICE, original))
    imported = files.import_json(ALICE, json.dumps(exported).encode())
    again = json.loads(files.export_json(ALICE, imported))
    assert again["session"].pop("id") != exported["session"].pop("id")
    assert again == exported


def test_all_sessions_export_as_json_lines(sessions, history, files) -> None:
    ids = [add_session(sessions, ALICE.email, f"S{i}", [f"m{i}"]) for i in range(3)]
    add_session(sessions, BOB.email, "Bob's", ["b"])
    lines = "".join(files.export_all_jsonl(ALICE)).splitlines()
    assert sorted(json.loads(line)["session"]["id"] for line in lines) == sorted(str(i) for i in ids)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff\xfe not utf-8", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"[]", "not a chat exported from this app"),
        (b'{"format": "something-else"}', "not a chat exported from this app"),
        (b'{"format": "lakebase-chat.session", "version": 9, "session": {}, "messages": []}', "version 9"),
        (
            b'{"format": "lakebase-chat.session", "version": 1, "session": {}}',
            "no `session` or no `messages`",
        ),
        (
            b'{"format": "lakebase-chat.session", "version": 1, "session": {"title": "t"}, '
            b'"messages": [{"seq": 1, "role": "system", "content": "x", "status": "complete"}]}',
            "messages[0].role",
        ),
        (
            b'{"format": "lakebase-chat.session", "version": 1, "session": {"title": "t"}, '
            b'"messages": [{"seq": 1, "role": "user", "content": 5, "status": "complete"}]}',
            "messages[0].content",
        ),
    ],
)
def test_a_file_that_is_not_an_export_is_refused_clearly_and_stores_nothing(
    sessions, history, data, words, files
) -> None:
    with pytest.raises(InvalidImport) as caught:
        files.import_json(ALICE, data)
    assert words in caught.value.user_message
    with unit_of_work(sessions) as db:
        assert db.scalar(select(func.count()).select_from(ChatSessionRow)) == 0


def test_messages_replaced_by_an_edit_stay_marked_through_export_and_import(sessions, files) -> None:
    original = add_session(sessions, ALICE.email, "Edited", ["Lisbn?", "A reply.", "Lisbon?", "Another."])
    with unit_of_work(sessions) as db:
        db.execute(
            text("UPDATE chat_message SET superseded = true WHERE session_id = :id AND seq <= 2"),
            {"id": original},
        )
        db.commit()
    exported = files.export_json(ALICE, original)
    assert [m.get("superseded", False) for m in json.loads(exported)["messages"]] == [
        True,
        True,
        False,
        False,
    ]
    imported = files.import_json(ALICE, exported.encode())
    again = json.loads(files.export_json(ALICE, imported))
    assert [m.get("superseded", False) for m in again["messages"]] == [True, True, False, False]
    assert "## You (replaced by an edit)" in files.export_markdown(ALICE, original)


def _deleted_minutes_ago(sessions, session_id: uuid.UUID, minutes: int) -> None:
    with unit_of_work(sessions) as db:
        db.execute(
            text("UPDATE chat_session SET deleted_at = now() - make_interval(mins => :m) WHERE id = :id"),
            {"m": minutes, "id": session_id},
        )
        db.commit()


def test_a_deleted_chat_can_be_restored_by_its_owner_within_the_undo_time(sessions, history) -> None:
    session_id = add_session(sessions, ALICE.email, "Oops", ["q", "a"])
    history.delete(ALICE, session_id)
    with pytest.raises(UndoTooLate):
        history.restore(BOB, session_id)  # never another user's, whatever the id
    history.restore(ALICE, session_id)
    assert [item.id for item in history.list_page(ALICE, ACTIVE).items] == [session_id]
    with pytest.raises(UndoTooLate):
        history.restore(ALICE, session_id)  # nothing left to undo

    history.delete(ALICE, session_id)
    _deleted_minutes_ago(sessions, session_id, DELETE_UNDO_SECONDS // 60 + 1)
    with pytest.raises(UndoTooLate):
        history.restore(ALICE, session_id)
    assert history.list_page(ALICE, ACTIVE).items == []
