"""CPU time to read one streamed reply through the model client, with the openai client's own HTTP
transport (httpx2 and h11) and with the app's (services/model_clients/http_transport.py).

The reply comes from the load benchmark's model server (bench/load/fake_model.py): 100 tokens, one
SSE event each, 500 tokens a second. Only this thread's CPU is counted (`time.thread_time`), so the
model server's own work is left out. The two transports alternate, `--rounds` times `--streams`
replies each; medians per transport.

    .venv/bin/python bench/model_stream.py [--rounds 4] [--streams 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "load"))

from fake_model import FakeModelServer  # noqa: E402

import services.model_clients.openai_compatible as openai_compatible  # noqa: E402
from services.model_clients.port import GenerationParams, PromptMessage, TextDelta  # noqa: E402

TIMEOUTS = openai_compatible.Timeouts(connect=5, first_token=30, total=120)


def client(base_url: str, *, own_transport: bool) -> openai_compatible.OpenAICompatibleClient:
    original = openai_compatible.http_client_for
    if not own_transport:
        openai_compatible.http_client_for = lambda *_: None  # type: ignore[assignment]
    try:
        return openai_compatible.OpenAICompatibleClient(base_url=base_url, api_key=None, timeouts=TIMEOUTS)
    finally:
        openai_compatible.http_client_for = original


def cpu_per_stream(model_client: openai_compatible.OpenAICompatibleClient, streams: int) -> list[float]:
    prompt = [PromptMessage("user", "bench-question about something")]
    params = GenerationParams("bench", 0.0, 1000)
    times = []
    for _ in range(streams):
        started = time.thread_time()
        tokens = sum(isinstance(e, TextDelta) for e in model_client.stream_chat(prompt, params))
        times.append(time.thread_time() - started)
        if tokens != 100:
            raise RuntimeError(f"expected 100 tokens, got {tokens}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--streams", type=int, default=15)
    arguments = parser.parse_args()
    model = FakeModelServer(first_token_seconds=0.0, tokens_per_second=500, reply_tokens=100)
    try:
        clients = {
            "openai client's own transport (httpx2, h11)": client(model.base_url, own_transport=False),
            "the app's transport (http.client)": client(model.base_url, own_transport=True),
        }
        times: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(arguments.rounds):
            for name, model_client in clients.items():
                times[name] += cpu_per_stream(model_client, arguments.streams)
        for name, measured in times.items():
            print(f"{name}: {1000 * statistics.median(measured):.1f} ms CPU per 100-token reply (median)")
    finally:
        model.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
