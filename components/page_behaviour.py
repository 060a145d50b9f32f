"""Small browser-side touches Streamlit has no API for, added once to every page.

Static code only: nothing here is built from user data, so nothing a user writes can reach it.
- The sidebar's chat list reads as a list: titles left-aligned, cut with an ellipsis.
- Esc stops the reply being written, as in ChatGPT (it presses the page's Stop button).
- On a phone the sidebar is a drawer: after opening a chat from it, it closes, so the chat shows.
- On a desktop the message box has the focus when a chat page opens, ready for typing.
"""

from __future__ import annotations

import streamlit as st

_STYLE = """
<style>
[data-testid="stSidebar"] [data-testid^="stBaseButton-"] { justify-content: flex-start; text-align: left; }
[data-testid="stSidebar"] [data-testid^="stBaseButton-"] p {
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}
</style>
"""

_SCRIPT = """
<script>
(() => {
  if (window.__chatAppBehaviour) return;
  window.__chatAppBehaviour = true;
  const phone = () => window.matchMedia("(max-width: 640px)").matches;
  const stopButton = () =>
    [...document.querySelectorAll('[data-testid="stChatMessage"] button')].find(
      (button) => button.innerText.trim().endsWith("Stop"));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const stop = stopButton();
    if (stop) { event.preventDefault(); stop.click(); }
  });
  document.addEventListener("click", (event) => {
    const chosen = event.target.closest('[data-testid="stSidebar"] [data-testid="stBaseButton-tertiary"]');
    if (!chosen || !phone()) return;
    setTimeout(() => {
      const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (close) close.click();
    }, 50);
  }, true);
  const focusMessageBox = () => {
    if (phone() || document.activeElement && document.activeElement !== document.body) return;
    const box = document.querySelector('[data-testid="stChatInputTextArea"]');
    if (box && !box.disabled) box.focus();
  };
  setTimeout(focusMessageBox, 300);
})();
</script>
"""


def add_page_behaviour() -> None:
    st.html(_STYLE)
    st.html(_SCRIPT, unsafe_allow_javascript=True, width="content")
