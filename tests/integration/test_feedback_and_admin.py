import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from persistence.database import unit_of_work
from persistence.orm import AdminAuditRow, ChatMessageRow, FeedbackRow
from services.admin import AdminService
from services.errors import NotAnAdmin, ReplyNotFound
from services.feedback import FeedbackService
from services.views import User
from tests.integration.helpers import ALICE, BOB
from tests.seed import add_session

pytestmark = pytest.mark.integration

ADMIN = User("boss@example.com", is_admin=True)


def reply_id(sessions, session_id: uuid.UUID) -> int:
    with unit_of_work(sessions) as db:
        return db.scalar(
            select(ChatMessageRow.id).where(
                ChatMessageRow.session_id == session_id, ChatMessageRow.role == "assistant"
            )
        )


def test_a_rating_is_stored_changed_commented_and_removed_by_its_author(sessions) -> None:
    feedback = FeedbackService(transactions=sessions)
    session_id = add_session(sessions, ALICE.email, "Rated", ["q", "a"])
    message_id = reply_id(sessions, session_id)
    feedback.rate(ALICE, message_id, -1)
    feedback.rate(ALICE, message_id, -1, "  too long \x00 ")
    assert feedback.ratings_in_session(ALICE, session_id)[message_id].comment == "too long \ufffd"
    feedback.rate(ALICE, message_id, 1)
    assert feedback.ratings_in_session(ALICE, session_id)[message_id].rating == 1
    feedback.rate(ALICE, message_id, None)
    assert feedback.ratings_in_session(ALICE, session_id) == {}


def test_nobody_rates_someone_elses_reply_or_a_question(sessions) -> None:
    feedback = FeedbackService(transactions=sessions)
    session_id = add_session(sessions, ALICE.email, "Alice's", ["q", "a"])
    with pytest.raises(ReplyNotFound):
        feedback.rate(BOB, reply_id(sessions, session_id), 1)
    with unit_of_work(sessions) as db:
        question = db.scalar(select(ChatMessageRow.id).where(ChatMessageRow.role == "user"))
        assert db.scalar(select(func.count()).select_from(FeedbackRow)) == 0
    with pytest.raises(ReplyNotFound):
        feedback.rate(ALICE, question, 1)
    assert feedback.ratings_in_session(BOB, session_id) == {}


def test_every_admin_use_case_refuses_a_non_admin(sessions) -> None:
    admin = AdminService(transactions=sessions)
    session_id = add_session(sessions, ALICE.email, "Alice's", ["q", "a"])
    for action in (
        lambda: admin.usage(BOB, date.today(), date.today()),
        lambda: admin.recent_thumbs_down(BOB),
        lambda: admin.view_session(BOB, session_id),
        lambda: admin.audit_log(BOB),
    ):
        with pytest.raises(NotAnAdmin):
            action()
    with unit_of_work(sessions) as db:
        assert db.scalar(select(func.count()).select_from(AdminAuditRow)) == 0


def test_an_admin_view_is_audited_and_reads_any_users_chat(sessions) -> None:
    admin = AdminService(transactions=sessions)
    session_id = add_session(sessions, ALICE.email, "Alice's", ["q", "a"])
    conversation = admin.view_session(ADMIN, session_id)
    assert [m.content for m in conversation.messages] == ["q", "a"]
    assert conversation.owner_id == ALICE.email
    admin.view_session(ADMIN, session_id, record=False)
    entries = admin.audit_log(ADMIN)
    assert [(e.admin_id, e.owner_id, e.session_id) for e in entries] == [
        (ADMIN.email, ALICE.email, session_id)
    ]


def test_per_day_figures_behind_the_charts_equal_direct_sql(sessions) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    admin = AdminService(transactions=sessions)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for owner, days_ago in (("a@x", 0), ("a@x", 2), ("b@x", 2), ("c@x", 40)):
        session_id = add_session(sessions, owner, "s", ["q", "a"])
        with unit_of_work(sessions) as db:
            db.execute(
                text("UPDATE chat_message SET created_at = :at, prompt_tokens = 3 WHERE session_id = :id"),
                {"at": today - timedelta(days=days_ago), "id": session_id},
            )
            db.commit()
    report = admin.usage(ADMIN, (today - timedelta(days=29)).date(), today.date())
    with unit_of_work(sessions) as db:
        expected = db.execute(
            text(
                "SELECT (m.created_at AT TIME ZONE 'UTC')::date, count(*) FILTER (WHERE m.role = 'user'), "
                "count(DISTINCT s.owner_id), sum(m.prompt_tokens) FROM chat_message m "
                "JOIN chat_session s ON s.id = m.session_id WHERE m.created_at >= :start "
                "GROUP BY 1 ORDER BY 1"
            ),
            {"start": today - timedelta(days=29, hours=12)},
        ).all()
    assert [(d.day, d.user_messages, d.active_users, d.prompt_tokens) for d in report.daily] == [
        tuple(row) for row in expected
    ]
    assert [(d.user_messages, d.active_users) for d in report.daily] == [(2, 2), (1, 1)]
