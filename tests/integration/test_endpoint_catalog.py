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
    assert first.endpoints == ["chat"] and "loading" in first.note
    deadline = time.monotonic() + 10
    while catalog.choices().note is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert catalog.choices() == catalog.choices()
    assert catalog.choices().endpoints == [
        "chat",
        "agent-endpoint",
    ]  # not the embedding, not the one warming up
    assert any(r.path == "/api/2.0/serving-endpoints" for r in fake_serving.requests)


def test_a_failed_listing_keeps_the_default_and_explains(fake_serving) -> None:
    catalog = catalog_for(fake_serving, "dapi-wrong")
    catalog.refresh()
    choices = catalog.choices()
    assert choices.endpoints == ["chat"]
    assert "could not be listed" in choices.note


def test_without_a_workspace_there_is_nothing_to_list() -> None:
    catalog = EndpointCatalog(default_endpoint="offline-demo", workspace_client=None)
    assert catalog.choices().endpoints == ["offline-demo"] and catalog.choices().note is None


def test_endpoints_whose_stream_format_the_app_cannot_read_are_not_offered() -> None:
    from types import SimpleNamespace

    ready = SimpleNamespace(ready="READY")
    listed = [
        SimpleNamespace(name=name, task=task, state=ready)
        for name, task in [
            ("llm", "llm/v1/chat"),
            ("chat-model", "agent/v1/chat"),
            ("chat-agent", "agent/v2/chat"),
            ("responses-agent", "agent/v1/responses"),
        ]
    ]
    workspace = SimpleNamespace(serving_endpoints=SimpleNamespace(list=lambda: listed))
    catalog = EndpointCatalog(default_endpoint="llm", workspace_client=lambda: workspace)
    catalog.refresh()
    assert catalog.choices().endpoints == ["llm", "chat-model"]
    assert not catalog.allows("chat-agent")
