"""Units of work against the real PostgreSQL: a `reading` unit runs outside a transaction and
refuses writes; `one_connection` carries several units on one pooled connection."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import func, insert, select

from persistence.database import ReadOnlyViolation, one_connection, reading, unit_of_work
from persistence.orm import ChatRequestRow, ChatSessionRow
from services.chat import PageQuery
from services.replies import INTERRUPTED_MESSAGE
from tests.fakes.models import ScriptedModel
from tests.integration.helpers import (
    ALICE,
    chat_service,
    checkouts_by_this_thread,
    leave_as_a_dead_process_would,
    wait_until,
)

pytestmark = pytest.mark.integration


def two_clock_readings(db) -> tuple[object, object]:
    """now() twice, 20 ms apart: inside one transaction it is the transaction's start both times."""
    first = db.scalar(select(func.now()))
    time.sleep(0.02)
    return first, db.scalar(select(func.now()))


def test_a_reading_unit_runs_each_statement_outside_a_transaction(sessions) -> None:
    with unit_of_work(sessions) as db:
        first, second = two_clock_readings(db)
        assert first == second  # the control: one transaction
    with reading(sessions) as db:
        first, second = two_clock_readings(db)
        assert first != second


def test_a_reading_unit_refuses_writes_and_stores_nothing(sessions) -> None:
    with reading(sessions) as db:
        with pytest.raises(ReadOnlyViolation):
            db.execute(insert(ChatSessionRow).values(id=uuid.uuid4(), owner_id=ALICE.email, title="Core"))
        db.add(ChatSessionRow(id=uuid.uuid4(), owner_id=ALICE.email, title="ORM"))
        with pytest.raises(ReadOnlyViolation):
            db.flush()
    with unit_of_work(sessions) as db:
        assert db.scalar(select(func.count()).select_from(ChatSessionRow)) == 0


def test_units_on_one_connection_share_it_and_the_pool_resets_it_afterwards(sessions) -> None:
    with checkouts_by_this_thread(sessions) as checkouts, one_connection(sessions) as connection:
        with unit_of_work(sessions, on=connection) as db:
            db.execute(insert(ChatSessionRow).values(id=uuid.uuid4(), owner_id=ALICE.email, title="One"))
            db.commit()
        with reading(sessions, on=connection) as db:
            assert db.scalar(select(func.count()).select_from(ChatSessionRow)) == 1
        with unit_of_work(sessions, on=connection) as db:  # after a read, a transaction again
            first, second = two_clock_readings(db)
            assert first == second
    assert len(checkouts) == 1
    # Back in the pool, the connection writes in transactions again: two statements, one now().
    with unit_of_work(sessions) as db:
        first, second = two_clock_readings(db)
        assert first == second


def test_a_page_read_closes_a_reply_whose_runner_is_gone_for_good(sessions) -> None:
    """The page reads outside a transaction; closing an abandoned reply still happens in one."""
    model = ScriptedModel()
    model.release.clear()
    service = chat_service(sessions, model)
    chat = service.create_session(ALICE)
    result = service.submit_message(ALICE, chat.id, "crash", client_message_id="gone-1")
    wait_until(lambda: model.calls, what="the model call")
    leave_as_a_dead_process_would(sessions, result.request_id, "half a rep")
    other_process = chat_service(sessions, ScriptedModel())  # where the runner is not running
    page = other_process.page(ALICE, chat.id, PageQuery(20, 10))
    assert page.open_request is None
    reply = page.messages[-1]
    assert (reply.role, reply.status, reply.content) == ("assistant", "interrupted", "half a rep")
    assert reply.error_message == INTERRUPTED_MESSAGE
    with unit_of_work(sessions) as db:
        assert db.get(ChatRequestRow, result.request_id).status == "interrupted"
    model.release.set()  # the first runner finds its request closed and saves nothing more
    wait_until(lambda: not service.runner.is_running(result.request_id), what="the old runner to finish")
    assert len(service.messages(ALICE, chat.id)) == 2
