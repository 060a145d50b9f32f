"""What a reply carries besides its text: the agent's tool steps, the model's reasoning, the sources
retrieval put in the prompt, and where the workspace recorded it (request and trace ids).

Saved with the message as one JSON document (`chat_message.details`), so it survives reloads,
exports and imports. Everything in it came from a model, a tool or a file, so it is cleaned like
message text (no NUL, no lone surrogates) and bounded in size before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from services.model_clients.wire_formats import MAX_TOOL_OUTPUT_CHARS
from services.text import make_storable

MAX_REASONING_CHARS = 100_000
MAX_STEPS = 50
MAX_SOURCES = 20
MAX_SOURCE_CHARS = 4_000
MAX_ID_CHARS = 200


class StepState(StrEnum):
    RUNNING = "running"  # called, no result yet
    DONE = "done"
    NO_RESULT = "no_result"  # the reply ended before the tool's result arrived


@dataclass(frozen=True)
class ToolStep:
    call_id: str
    name: str
    arguments: str
    state: StepState = StepState.RUNNING
    result: str | None = None


@dataclass(frozen=True)
class Source:
    """A passage retrieval put in the prompt: where it came from and what it said."""

    title: str
    text: str
    link: str | None = None


@dataclass(frozen=True)
class ReplyDetails:
    steps: tuple[ToolStep, ...] = ()
    reasoning: str = ""
    sources: tuple[Source, ...] = ()
    request_id: str | None = None
    trace_id: str | None = None

    @property
    def is_empty(self) -> bool:
        return self == ReplyDetails()

    def with_call(self, call_id: str, name: str, arguments: str) -> ReplyDetails:
        """A call started, or its name and arguments grew (arguments can stream in pieces)."""
        steps = list(self.steps)
        for index, step in enumerate(steps):
            if step.call_id == call_id:
                steps[index] = replace(step, name=name or step.name, arguments=arguments)
                return replace(self, steps=tuple(steps))
        if len(steps) >= MAX_STEPS:
            return self
        return replace(self, steps=(*steps, ToolStep(call_id=call_id, name=name, arguments=arguments)))

    def with_result(self, call_id: str, output: str) -> ReplyDetails:
        steps = list(self.steps)
        for index, step in enumerate(steps):
            if step.call_id == call_id and step.state is StepState.RUNNING:
                steps[index] = replace(step, state=StepState.DONE, result=output)
                return replace(self, steps=tuple(steps))
        # A result whose call was never announced (some agents send only results): a step of its own.
        if len(steps) >= MAX_STEPS:
            return self
        step = ToolStep(call_id=call_id, name="", arguments="", state=StepState.DONE, result=output)
        return replace(self, steps=(*steps, step))

    def with_reasoning(self, text: str) -> ReplyDetails:
        if len(self.reasoning) >= MAX_REASONING_CHARS:
            return self
        return replace(self, reasoning=(self.reasoning + text)[:MAX_REASONING_CHARS])

    def finished(self) -> ReplyDetails:
        """The reply ended: a call still running never got its result."""
        steps = tuple(
            replace(step, state=StepState.NO_RESULT) if step.state is StepState.RUNNING else step
            for step in self.steps
        )
        return replace(self, steps=steps)

    # -- storage ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any] | None:
        """The stored document (None when there is nothing to store)."""
        if self.is_empty:
            return None
        document: dict[str, Any] = {}
        if self.steps:
            document["steps"] = [
                {
                    "call_id": step.call_id,
                    "name": step.name,
                    "arguments": step.arguments,
                    "state": step.state.value,
                    "result": step.result,
                }
                for step in self.steps
            ]
        if self.reasoning:
            document["reasoning"] = self.reasoning
        if self.sources:
            document["sources"] = [
                {"title": source.title, "text": source.text, "link": source.link} for source in self.sources
            ]
        if self.request_id:
            document["request_id"] = self.request_id
        if self.trace_id:
            document["trace_id"] = self.trace_id
        return document

    @classmethod
    def from_json(cls, document: Any) -> ReplyDetails:
        """Read a stored or imported document. Anything malformed is a ValueError naming the field;
        texts are cleaned and cut to their limits."""
        if document is None:
            return cls()
        if not isinstance(document, dict):
            raise ValueError("details must be an object")
        steps_data = document.get("steps") or []
        sources_data = document.get("sources") or []
        if not isinstance(steps_data, list) or not isinstance(sources_data, list):
            raise ValueError("details.steps and details.sources must be lists")
        steps = []
        for index, step in enumerate(steps_data[:MAX_STEPS]):
            if not isinstance(step, dict):
                raise ValueError(f"details.steps[{index}] must be an object")
            try:
                state = StepState(step.get("state") or StepState.DONE)
            except ValueError:
                raise ValueError(f"details.steps[{index}].state is not a known state") from None
            result = step.get("result")
            steps.append(
                ToolStep(
                    call_id=_clean(step.get("call_id"), MAX_ID_CHARS, f"details.steps[{index}].call_id"),
                    name=_clean(step.get("name"), MAX_ID_CHARS, f"details.steps[{index}].name"),
                    arguments=_clean(
                        step.get("arguments"), MAX_TOOL_OUTPUT_CHARS, f"details.steps[{index}].arguments"
                    ),
                    state=state,
                    result=None
                    if result is None
                    else _clean(result, MAX_TOOL_OUTPUT_CHARS, f"details.steps[{index}].result"),
                )
            )
        sources = []
        for index, source in enumerate(sources_data[:MAX_SOURCES]):
            if not isinstance(source, dict):
                raise ValueError(f"details.sources[{index}] must be an object")
            link = source.get("link")
            sources.append(
                Source(
                    title=_clean(source.get("title"), MAX_ID_CHARS, f"details.sources[{index}].title"),
                    text=_clean(source.get("text"), MAX_SOURCE_CHARS, f"details.sources[{index}].text"),
                    link=None if link is None else _clean(link, 2_000, f"details.sources[{index}].link"),
                )
            )
        request_id, trace_id = document.get("request_id"), document.get("trace_id")
        return cls(
            steps=tuple(steps),
            reasoning=_clean(document.get("reasoning"), MAX_REASONING_CHARS, "details.reasoning"),
            sources=tuple(sources),
            request_id=None if request_id is None else _clean(request_id, MAX_ID_CHARS, "details.request_id"),
            trace_id=None if trace_id is None else _clean(trace_id, MAX_ID_CHARS, "details.trace_id"),
        )


def _clean(value: Any, limit: int, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    return make_storable(value).text[:limit]
