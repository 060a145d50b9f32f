from services.model_clients.demo import DemoModelClient
from services.model_clients.port import GenerationParams, PromptMessage, TextDelta, Usage


def run(client: DemoModelClient, text: str, max_tokens: int = 1000) -> tuple[str, list[Usage]]:
    events = list(
        client.stream_chat([PromptMessage("user", text)], GenerationParams("offline-demo", 0.7, max_tokens))
    )
    return "".join(e.text for e in events if isinstance(e, TextDelta)), [
        e for e in events if isinstance(e, Usage)
    ]


def test_the_demo_reply_is_labelled_streams_word_by_word_and_reports_usage() -> None:
    sleeps: list[float] = []
    client = DemoModelClient(first_token_delay_seconds=0.5, word_delay_seconds=0.02, sleep=sleeps.append)
    text, usage = run(client, "What is Lakebase?")
    assert text.startswith("*Offline demo model")
    assert 'You wrote: "What is Lakebase?"' in text
    assert sleeps[0] == 0.5
    assert set(sleeps[1:]) == {0.02}
    assert len(sleeps) > 10
    assert len(usage) == 1
    assert usage[0].completion_tokens > 0


def test_max_tokens_cuts_the_demo_reply() -> None:
    client = DemoModelClient(first_token_delay_seconds=0, word_delay_seconds=0, sleep=lambda _: None)
    short, _ = run(client, "hello", max_tokens=5)
    full, _ = run(client, "hello")
    assert 0 < len(short) <= 20 < len(full)
