import time

from services.config import Settings
from services.endpoint_catalog import EndpointCatalog
from services.workspace import workspace_client


def catalog_for(fake_serving, token: str) -> EndpointCatalog:
    settings = Settings(_env_file=None, databricks_host=fake_serving.url, databricks_token=token)
    return EndpointCatalog(default_endpoint="chat", workspace_client=lambda: workspace_client(settings))


def test_ready_chat_endpoints_are_listed_over_http_with_the_default_first(fake_serving) -> None:
    catalog = catalog_for(fake_serving, fake_serving.token)
    first = catalog.choices()  # never waits: the list loads in the background
    assert first.endpoints == ["chat"]
    assert "loading" in first.note
    deadline = time.monotonic() + 10
    while catalog.choices().note is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert catalog.choices() == catalog.choices()
    # Chat models and every kind of agent; not the embedding, not the one warming up.
    assert catalog.choices().endpoints == [
        "chat",
        "agent-chat",
        "agent-endpoint",
        "agent-responses",
        "agent-responses-cut",
        "reasoning",
    ]
    assert any(r.path == "/api/2.0/serving-endpoints" for r in fake_serving.requests)
    assert catalog.task_of("agent-responses") == "agent/v1/responses"


def test_the_task_of_an_endpoint_that_was_not_listed_is_asked_for_once(fake_serving) -> None:
    catalog = catalog_for(fake_serving, fake_serving.token)
    assert catalog.task_of("agent-chat") == "agent/v2/chat"
    assert catalog.task_of("agent-chat") == "agent/v2/chat"
    lookups = [r for r in fake_serving.requests if r.path == "/api/2.0/serving-endpoints/agent-chat"]
    assert len(lookups) == 1
    assert catalog.task_of("no-such-endpoint") is None  # unknown: the turn speaks chat completions


def test_a_failed_listing_keeps_the_default_and_explains(fake_serving) -> None:
    catalog = catalog_for(fake_serving, "dapi-wrong")
    catalog.refresh()
    choices = catalog.choices()
    assert choices.endpoints == ["chat"]
    assert "could not be listed" in choices.note


def test_without_a_workspace_there_is_nothing_to_list() -> None:
    catalog = EndpointCatalog(default_endpoint="offline-demo", workspace_client=None)
    assert catalog.choices().endpoints == ["offline-demo"]
    assert catalog.choices().note is None


def test_every_chat_task_is_offered_and_other_tasks_are_not() -> None:
    from types import SimpleNamespace

    ready = SimpleNamespace(ready="READY")
    listed = [
        SimpleNamespace(name=name, task=task, state=ready)
        for name, task in [
            ("llm", "llm/v1/chat"),
            ("chat-model", "agent/v1/chat"),
            ("chat-agent", "agent/v2/chat"),
            ("responses-agent", "agent/v1/responses"),
            ("embeddings", "llm/v1/embeddings"),
            ("custom", None),
        ]
    ]
    workspace = SimpleNamespace(serving_endpoints=SimpleNamespace(list=lambda: listed))
    catalog = EndpointCatalog(default_endpoint="llm", workspace_client=lambda: workspace)
    catalog.refresh()
    assert catalog.choices().endpoints == ["llm", "chat-agent", "chat-model", "responses-agent"]
    assert catalog.allows("chat-agent")
    assert not catalog.allows("embeddings")


def test_a_turn_waits_only_briefly_for_a_task_the_workspace_is_slow_to_give() -> None:
    import threading
    from types import SimpleNamespace

    answer = threading.Event()

    def get(name: str) -> SimpleNamespace:
        answer.wait(10)  # the workspace answers only when the test lets it
        return SimpleNamespace(task="agent/v2/chat")

    workspace = SimpleNamespace(serving_endpoints=SimpleNamespace(get=get))
    catalog = EndpointCatalog(default_endpoint="slow", workspace_client=lambda: workspace)
    started = time.monotonic()
    assert catalog.task_of("slow", wait_seconds=0.2) is None  # chat completions, for now
    assert time.monotonic() - started < 5
    answer.set()
    assert catalog.task_of("slow", wait_seconds=5) == "agent/v2/chat"  # the next turn knows
