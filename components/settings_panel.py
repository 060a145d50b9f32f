"""Per-session model settings: endpoint, temperature, max tokens and system prompt."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from services.endpoint_catalog import EndpointChoices
from services.views import EffectiveModelSettings


@dataclass(frozen=True)
class SettingsChange:
    endpoint: str
    temperature: float
    max_tokens: int
    system_prompt: str


def render_settings_form(
    current: EffectiveModelSettings, choices: EndpointChoices, *, key: str
) -> SettingsChange | None:
    """The settings as a form, where it is called (the chat page's dialog); returns the new values
    when the user saves them."""
    with st.form(key=f"{key}-form", border=False):
        options = list(
            dict.fromkeys([*(choices.endpoints), *([current.endpoint] if current.endpoint else [])])
        )
        if len(options) > 1:
            endpoint = st.selectbox(
                "Model endpoint",
                options,
                index=options.index(current.endpoint or options[0]),
                key=f"{key}-endpoint",
            )
        else:
            endpoint = st.text_input("Model endpoint", value=current.endpoint or "", key=f"{key}-endpoint")
        if choices.note:
            st.caption(choices.note)
        temperature = st.slider(
            "Temperature",
            min_value=0.0,
            max_value=2.0,
            value=float(current.temperature),
            step=0.1,
            key=f"{key}-temperature",
        )
        max_tokens = st.number_input(
            "Max tokens",
            min_value=1,
            max_value=200_000,
            value=int(current.max_tokens),
            step=64,
            key=f"{key}-max-tokens",
        )
        system_prompt = st.text_area("System prompt", value=current.system_prompt, key=f"{key}-system")
        if st.form_submit_button("Save settings"):
            return SettingsChange(endpoint.strip(), float(temperature), int(max_tokens), system_prompt)
    return None
