"""Thumbs up/down under a reply, with an optional comment, saved as soon as it changes."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from services.feedback import Rating

# st.feedback("thumbs") answers 0 for thumbs down and 1 for thumbs up.
_TO_RATING = {0: -1, 1: 1}
_TO_WIDGET = {-1: 0, 1: 1}


def render_feedback(
    message_id: int, current: Rating | None, save: Callable[[int, int | None, str | None], None]
) -> None:
    """`save(message_id, rating, comment)` stores the change; rating None removes the rating."""
    key = f"feedback-{message_id}"

    def _on_rate() -> None:
        choice = st.session_state.get(key)
        comment = current.comment if current else None
        save(message_id, _TO_RATING.get(choice) if choice is not None else None, comment)

    # One row, the comment button right of the thumbs once there is a rating. A horizontal container
    # is one block where columns were three (the row and its two columns): two of the seven messages
    # each reply of a chat sent on every run of the page (bench/page_runs.py).
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.feedback(
            "thumbs", key=key, default=_TO_WIDGET.get(current.rating) if current else None, on_change=_on_rate
        )
        if current is None:
            return
        popover = st.popover("Edit comment" if current.comment else "Comment", type="tertiary")
    with popover, st.form(key=f"comment-{message_id}", border=False):
        comment = st.text_area("What was good or wrong about this reply?", value=current.comment or "")
        if st.form_submit_button("Save comment"):
            save(message_id, current.rating, comment)
            st.rerun()
