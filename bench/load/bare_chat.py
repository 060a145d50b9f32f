"""The baseline: a bare Streamlit chat page that streams the same model with `st.write_stream` and
stores nothing (the conversation lives in the tab's session state only)."""

import os

import streamlit as st
from openai import OpenAI


@st.cache_resource
def client() -> OpenAI:
    return OpenAI(base_url=os.environ["LLM_BASE_URL"], api_key="not-needed", max_retries=0)


st.title("Bare chat")
history = st.session_state.setdefault("history", [])
for role, text in history:
    with st.chat_message(role):
        st.markdown(text)

prompt = st.chat_input("Message")
if prompt:
    history.append(("user", prompt))
    with st.chat_message("user"):
        st.markdown(prompt)
    stream = client().chat.completions.create(
        model=os.environ.get("LLM_ENDPOINT", "bench"),
        messages=[{"role": role, "content": text} for role, text in history],
        stream=True,
    )
    with st.chat_message("assistant"):
        reply = st.write_stream(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    history.append(("assistant", reply))
