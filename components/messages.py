"""The message list: each turn in a chat bubble, with a caption of its figures under each reply.

A reply from an agent or a reasoning model also shows how it came about, collapsed above its text:
the reasoning, then each tool call with its arguments and result. Sources that retrieval put in
the prompt are listed under it. All of it came from a model, a tool or an index, so all of it is
shown as text or code, never as HTML.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import state
from components.markup import message_markdown, plain
from services.reply_buffer import ReplySnapshot
from services.reply_details import ReplyDetails, StepState, ToolStep
from services.views import MessageStatus, MessageView, Role

_STEP_STATES = {
    StepState.RUNNING: ("running…", ":material/progress_activity:"),
    StepState.DONE: ("done", ":material/build:"),
    StepState.NO_RESULT: ("no result", ":material/build:"),
}
SOURCE_PREVIEW_CHARS = 400

_STATUS_NOTES = {
    MessageStatus.STOPPED: "Stopped by you.",
    MessageStatus.INTERRUPTED: "Interrupted: the app restarted while this reply was being written.",
}


def _pretty(text: str) -> tuple[str, str | None]:
    """Tool arguments and results as code: indented JSON when they are JSON, else as sent."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), "json"
    except ValueError:
        return text, None


def _render_step(step: ToolStep) -> None:
    state, icon = _STEP_STATES[step.state]
    name = plain(step.name) if step.name else "Tool"
    with st.expander(f"{name} · {state}", icon=icon):
        if step.arguments:
            st.caption("Arguments")
            code, language = _pretty(step.arguments)
            st.code(code, language=language, wrap_lines=True)
        if step.result is not None:
            st.caption("Result")
            code, language = _pretty(step.result)
            st.code(code, language=language, wrap_lines=True)


def _render_reasoning(reasoning: str) -> None:
    with st.expander("Reasoning", icon=":material/psychology:"):
        st.markdown(message_markdown(reasoning))


def render_steps(details: ReplyDetails) -> None:
    """Above a reply: the model's reasoning and the agent's tool calls, each collapsed."""
    if details.reasoning:
        _render_reasoning(details.reasoning)
    for step in details.steps:
        _render_step(step)


def _safe_link(link: str | None) -> str | None:
    """A source's link, when it is a plain http(s) address that Markdown cannot be tricked by."""
    if not link:
        return None
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(character in link for character in ' <>()[]"\n\r\t'):
        return None
    return link


def render_sources(details: ReplyDetails) -> None:
    """Under a reply: the passages retrieval put in its prompt, numbered as the prompt numbers them."""
    if not details.sources:
        return
    with st.expander(f"Sources ({len(details.sources)})", icon=":material/menu_book:"):
        for number, source in enumerate(details.sources, start=1):
            title = plain(source.title) or "Untitled"
            link = _safe_link(source.link)
            st.markdown(f"**[{number}]** [{title}]({link})" if link else f"**[{number}]** {title}")
            preview = source.text[:SOURCE_PREVIEW_CHARS] + (
                "…" if len(source.text) > SOURCE_PREVIEW_CHARS else ""
            )
            st.caption(plain(preview))


def reply_caption(message: MessageView) -> str:
    parts = [plain(message.model) if message.model else "model unknown"]
    if message.prompt_tokens is not None or message.completion_tokens is not None:
        parts.append(f"{message.prompt_tokens or 0:,} → {message.completion_tokens or 0:,} tokens")
    if message.time_to_first_token_ms is not None:
        parts.append(f"first token {message.time_to_first_token_ms / 1000:.2f} s")
    if message.latency_ms is not None:
        parts.append(f"{message.latency_ms / 1000:.2f} s total")
    # Where the workspace recorded the reply: what to quote when asking about it.
    if message.details.request_id:
        parts.append(f"request {plain(message.details.request_id)}")
    if message.details.trace_id:
        parts.append(f"trace {plain(message.details.trace_id)}")
    return " · ".join(parts)


def render_message(
    message: MessageView,
    *,
    below_reply: Callable[[MessageView], None] | None = None,
    below_question: Callable[[MessageView], None] | None = None,
) -> None:
    with st.chat_message(message.role):
        if message.role == Role.ASSISTANT:
            render_steps(message.details)
        # Markdown with HTML off and images as links (components.markup): never trusted as HTML.
        if message.content:
            st.markdown(message_markdown(message.content))
        if message.role == Role.USER and below_question is not None:
            below_question(message)
        if message.role == Role.ASSISTANT:
            render_sources(message.details)
            render_reply_footer(message)
            if below_reply is not None:
                below_reply(message)


def render_reply_footer(message: MessageView) -> None:
    """Under a reply: what went wrong, if anything, then its model and figures."""
    if message.status == MessageStatus.ERROR and message.error_message:
        st.error(message.error_message, icon=":material/error:")
    elif message.status in _STATUS_NOTES:
        st.warning(message.error_message or _STATUS_NOTES[message.status], icon=":material/pause_circle:")
    st.caption(reply_caption(message))


def render_streaming_reply(updates: Iterator[ReplySnapshot]) -> str:
    """A reply as it streams, redrawn at each update (about ten a second).

    Each part has a slot of its own (reasoning, one per tool step, the text, the sources), and a
    slot is only ever redrawn with as many elements as before or more: Streamlit keeps a replaced
    block's extra children until the run ends, so a part redrawn in a shared slot would leave pieces
    of its old self inside the new one. The text is redrawn whole, so the image rule applies to
    the text so far, never to a fragment in which `![` is split across updates. Until the first
    token, a thinking indicator says the model is working."""
    steps_area = st.container()
    text_slot = st.empty()
    text_slot.caption("Thinking…")
    sources_slot = st.empty()
    reasoning_slot = None
    step_slots: dict[str, DeltaGenerator] = {}
    drawn: dict[DeltaGenerator, object] = {}  # slot -> what it shows, so an unchanged part is not resent
    text = ""
    shown = False

    def draw(slot: DeltaGenerator, value: object, render: Callable[[], None]) -> None:
        if drawn.get(slot) != value:
            drawn[slot] = value
            with slot.container():
                render()

    for snapshot in updates:
        shown = True
        details = snapshot.details
        if details.reasoning:
            reasoning_slot = reasoning_slot or steps_area.empty()
            draw(reasoning_slot, details.reasoning, lambda text=details.reasoning: _render_reasoning(text))
        for step in details.steps:
            if step.call_id not in step_slots:
                step_slots[step.call_id] = steps_area.empty()
            draw(step_slots[step.call_id], step, lambda step=step: _render_step(step))
        if snapshot.text != text:
            text = snapshot.text
            text_slot.markdown(message_markdown(text))
        elif not text and (details.steps or details.reasoning):
            text_slot.empty()  # the model is working in steps: no thinking indicator under them
        if details.sources:
            draw(sources_slot, details.sources, lambda shown_details=details: render_sources(shown_details))
    if not shown:
        text_slot.empty()  # it ended before anything arrived: the footer says why
    return text


def reply_versions(messages: list[MessageView]) -> list[list[MessageView]]:
    """The conversation as turns: each user message alone, and each run of replies to one message
    (a reply, then each Retry or Regenerate of it) together, oldest version first."""
    grouped: list[list[MessageView]] = []
    for message in messages:
        if message.role == Role.ASSISTANT and grouped and grouped[-1][-1].role == Role.ASSISTANT:
            grouped[-1].append(message)
        else:
            grouped.append([message])
    return grouped


def _version_switcher(versions: list[MessageView], shown: int) -> None:
    """ "Version 2 of 3" under a regenerated reply, with buttons: every version is kept and can be read."""
    key = versions[0].id
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.button(
            "Previous",
            icon=":material/chevron_left:",
            help="The previous version of this reply",
            key=f"version-back-{key}",
            disabled=shown == 0,
            on_click=state.show_version,
            args=(key, shown - 1, len(versions)),
            type="tertiary",
        )
        st.caption(f"Version {shown + 1} of {len(versions)}", width="content")
        st.button(
            "Next",
            icon=":material/chevron_right:",
            help="The next version of this reply",
            key=f"version-next-{key}",
            disabled=shown == len(versions) - 1,
            on_click=state.show_version,
            args=(key, shown + 1, len(versions)),
            type="tertiary",
        )


def _render_superseded(messages: list[MessageView]) -> None:
    """Messages an edit replaced: kept where they were, collapsed, and never sent to a model again."""
    with st.expander(f"Before your edit ({len(messages)} messages)", icon=":material/edit_note:"):
        for message in messages:
            render_message(message)


def render_messages(
    messages: list[MessageView],
    *,
    below_reply: Callable[[MessageView], None] | None = None,
    below_question: Callable[[MessageView], None] | None = None,
) -> None:
    """The conversation; `below_reply` draws extra widgets (feedback) under each reply, and
    `below_question` under each question. Of a reply with several versions, one shows (the newest,
    unless another was chosen), with a switcher. Messages an edit replaced are collapsed."""
    superseded: list[MessageView] = []
    current: list[MessageView] = []
    for message in messages:
        if message.superseded:
            if current:
                _render_current(current, below_reply, below_question)
                current = []
            superseded.append(message)
        else:
            if superseded:
                _render_superseded(superseded)
                superseded = []
            current.append(message)
    if superseded:
        _render_superseded(superseded)
    if current:
        _render_current(current, below_reply, below_question)


def _render_current(
    messages: list[MessageView],
    below_reply: Callable[[MessageView], None] | None,
    below_question: Callable[[MessageView], None] | None,
) -> None:
    for versions in reply_versions(messages):
        if len(versions) == 1:
            render_message(versions[0], below_reply=below_reply, below_question=below_question)
            continue
        shown = state.shown_version(versions[0].id, len(versions))
        message = versions[shown]

        def below(reply: MessageView, versions: list[MessageView] = versions, shown: int = shown) -> None:
            _version_switcher(versions, shown)
            if below_reply is not None:
                below_reply(reply)

        render_message(message, below_reply=below)
