from services.context import HistoryMessage, build_context


def history(*items: tuple[str, str, str]) -> list[HistoryMessage]:
    return [HistoryMessage(role, content, status) for role, content, status in items]


def test_system_prompt_comes_first_then_the_conversation_in_order() -> None:
    context = build_context(
        system_prompt="Be brief.",
        history=history(
            ("user", "hi", "complete"), ("assistant", "hello", "complete"), ("user", "why?", "complete")
        ),
        char_budget=10_000,
    )
    assert [(m.role, m.content) for m in context] == [
        ("system", "Be brief."),
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "why?"),
    ]


def test_the_oldest_messages_are_dropped_to_fit_the_budget() -> None:
    context = build_context(
        system_prompt="",
        history=history(
            ("user", "a" * 500, "complete"),
            ("assistant", "b" * 500, "complete"),
            ("user", "c" * 100, "complete"),
            ("assistant", "d" * 100, "complete"),
            ("user", "latest", "complete"),
        ),
        char_budget=300,
    )
    assert [m.content[0] for m in context] == ["c", "d", "l"]


def test_the_newest_user_message_is_kept_even_when_it_alone_exceeds_the_budget() -> None:
    context = build_context(
        system_prompt="sys", history=history(("user", "x" * 5000, "complete")), char_budget=100
    )
    assert [m.role for m in context] == ["system", "user"]


def test_failed_and_empty_replies_are_left_out_and_no_reply_leads() -> None:
    context = build_context(
        system_prompt="",
        history=history(
            ("assistant", "orphan reply", "complete"),
            ("user", "q1", "complete"),
            ("assistant", "", "error"),
            ("assistant", "partial", "stopped"),
            ("user", "q2", "complete"),
        ),
        char_budget=10_000,
    )
    assert [(m.role, m.content) for m in context] == [
        ("user", "q1"),
        ("assistant", "partial"),
        ("user", "q2"),
    ]


def test_of_several_versions_of_a_reply_only_the_newest_goes_in() -> None:
    context = build_context(
        system_prompt="",
        history=history(
            ("user", "plan a trip", "complete"),
            ("assistant", "a stopped half", "stopped"),
            ("assistant", "a failed one", "error"),
            ("assistant", "the regenerated plan", "complete"),
            ("user", "shorter please", "complete"),
        ),
        char_budget=10_000,
    )
    assert [(m.role, m.content) for m in context] == [
        ("user", "plan a trip"),
        ("assistant", "the regenerated plan"),
        ("user", "shorter please"),
    ]
