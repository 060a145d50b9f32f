"""The turn's extension point (issue 10, part 6): a custom TurnExtension, and the built-in retrieval
on Vector Search against the fake workspace: passages in the prompt the model receives, sources
saved with the reply, and a turn that still answers when the index cannot be queried."""

from __future__ import annotations

import pytest

from services.application import build_application
from services.config import Settings
from services.context import fit_to_budget
from services.errors import UserError
from services.model_clients.port import PromptMessage
from tests.fakes.serving import VECTOR_INDEX
from tests.integration.helpers import ALICE, one_turn, use_fake_workspace

pytestmark = pytest.mark.integration


@pytest.fixture
def workspace(fake_serving, app_env, clean_db):
    use_fake_workspace(app_env, fake_serving)
    fake_serving.vector_queries.clear()
    return app_env


def prompt_received(fake_serving) -> list[dict]:
    return [r for r in fake_serving.requests if r.path.endswith("/invocations")][-1].body["messages"]


def test_retrieved_passages_go_into_the_prompt_and_show_as_sources(workspace, fake_serving) -> None:
    workspace.setenv("VECTOR_SEARCH_INDEX", VECTOR_INDEX)
    workspace.setenv("VECTOR_SEARCH_RESULTS", "2")
    reply = one_turn(ALICE, "How are travel expenses reimbursed?")
    assert fake_serving.vector_queries == [
        {
            "columns": ["text", "title", "url"],
            "query_text": "How are travel expenses reimbursed?",
            "num_results": 2,
        }
    ]
    messages = prompt_received(fake_serving)
    # The app's system prompt, then the passages, then the conversation.
    assert [m["role"] for m in messages] == ["system", "system", "user"]
    assert "[1] Expenses policy\nTravel expenses are reimbursed within 30 days" in messages[1]["content"]
    assert reply.status == "complete"
    assert reply.details.sources[0].title == "Expenses policy"
    assert reply.details.sources[0].link == "https://handbook.example.com/expenses"
    assert len(reply.details.sources) == 2


def test_passages_stay_within_their_share_of_the_context_budget(workspace, fake_serving) -> None:
    workspace.setenv("VECTOR_SEARCH_INDEX", VECTOR_INDEX)
    workspace.setenv("CONTEXT_CHAR_BUDGET", "1000")
    # 350 characters: the instruction (217) and the best passage (109), not a second one (93).
    workspace.setenv("RETRIEVAL_BUDGET_SHARE", "0.35")
    reply = one_turn(ALICE, "travel expenses holiday encryption")
    assert len(reply.details.sources) == 1
    assert sum(len(m["content"]) for m in prompt_received(fake_serving)) <= 1000


def test_an_index_that_cannot_be_queried_leaves_the_turn_without_sources(workspace, fake_serving) -> None:
    workspace.setenv("VECTOR_SEARCH_INDEX", "main.docs.no_such_index")
    reply = one_turn(ALICE, "How are travel expenses reimbursed?")
    assert reply.status == "complete"
    assert reply.content.startswith("Served reply to:")
    assert reply.details.sources == ()
    assert len(prompt_received(fake_serving)) == 2  # system prompt and question only


def test_a_custom_extension_prepares_the_prompt_and_post_processes_the_reply(workspace, fake_serving) -> None:
    workspace.setenv("TURN_EXTENSION", "tests.extensions.shouting:house_style")
    reply = one_turn(ALICE, "hello")
    messages = prompt_received(fake_serving)
    assert messages[-2] == {"role": "system", "content": "Answer in the house style."}
    assert reply.content == f"Served reply to: hello\n\n-- answered for {ALICE.email}"
    assert [s.title for s in reply.details.sources] == ["House style guide"]


def test_an_extension_that_cannot_be_imported_stops_start_up_and_names_the_setting(workspace) -> None:
    workspace.setenv("TURN_EXTENSION", "tests.extensions.missing:factory")
    with pytest.raises(UserError) as raised:
        build_application(Settings(_env_file=None))
    assert "TURN_EXTENSION" in raised.value.user_message


def test_fitting_a_prompt_drops_the_oldest_turns_and_keeps_system_messages_and_the_question() -> None:
    prompt = [
        PromptMessage("system", "s" * 10),
        PromptMessage("system", "p" * 50),
        PromptMessage("user", "old question " * 5),
        PromptMessage("assistant", "old answer " * 5),
        PromptMessage("user", "new question"),
    ]
    fitted = fit_to_budget(prompt, 80)
    assert [m.content[:3] for m in fitted] == ["sss", "ppp", "new"]
    assert fit_to_budget(prompt, 10_000) == prompt
