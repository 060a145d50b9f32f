"""Small browser-side touches Streamlit has no API for, sent once to each browser tab.

Static code only: nothing here is built from user data, so nothing a user writes can reach it.
One script sets everything up in the tab's document, the style included, and what it set up stays
for as long as the tab does: the element that carried it is needed only until it has run. Sent on
every page run, it was two elements and 7 KB more for every run to build and send (bench/load).
- The sidebar's chat list reads as a list: titles left-aligned, cut with an ellipsis.
- Esc stops the reply being written, as in ChatGPT (it presses the page's Stop button), and the
  Stop button sits just above the message box while a reply streams, where the eye is.
- On a phone the sidebar is a drawer: after opening a chat from it, it closes, so the chat shows.
- On a desktop the message box has the focus when a chat page opens, ready for typing.
- Every message has a Copy button (top right) that copies its text, as in ChatGPT.
- Each chat's ⋯ button in the sidebar is named for its chat ("Actions for <title>") for screen
  readers: the name is set as an attribute from the title's text on the page, never parsed as HTML.
"""

from __future__ import annotations

import json

import streamlit as st

_STYLE = """
[data-testid="stSidebar"] [class*="st-key-open-"] button { justify-content: flex-start; text-align: left; }
[data-testid="stSidebar"] [class*="st-key-open-"] button > div,
[data-testid="stSidebar"] [class*="st-key-open-"] button > div > span {
  justify-content: flex-start; min-width: 0; max-width: 100%;
}
[data-testid="stSidebar"] [class*="st-key-open-"] button p {
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}
/* The recent chats (components.session_list): a chat's title button, then its ⋯ button, on one
   row of a two-column grid; the date headings span both columns. */
[data-testid="stSidebar"] .st-key-recent-chats {
  display: grid; grid-template-columns: minmax(0, 1fr) auto; align-items: center;
}
[data-testid="stSidebar"] .st-key-recent-chats
  > :not([class*="st-key-open-"]):not([class*="st-key-actions-"]) {
  grid-column: 1 / -1;
}
[data-testid="stSidebar"] .st-key-recent-chats
  > :not([class*="st-key-open-"]):not([class*="st-key-actions-"]):not(:first-child) {
  margin-top: 0.5rem;
}
/* The element that carried this style and its script (components.page_behaviour): it shows nothing,
   and hidden it takes no gap at the top of the sidebar, so nothing moves when it is gone. */
[data-testid="stElementContainer"]:has(script[data-chat-app-behaviour]) { display: none; }
[data-testid="stChatMessage"] { position: relative; }
/* The Stop button of the reply being written: centred just above the message box. */
[class*="st-key-stop-"] {
  position: fixed; bottom: 9.5rem; left: 50%; transform: translateX(-50%); z-index: 999990;
  width: auto !important;
}
[class*="st-key-stop-"] button { box-shadow: 0 2px 8px rgba(0, 0, 0, 0.15); background: #ffffff; }
.chat-copy-button {
  position: absolute; top: 0.5rem; right: 0.5rem; padding: 0.1rem 0.5rem;
  font: inherit; font-size: 0.8rem; color: #111111; background: #ffffff;
  border: 1px solid #c8c8c8; border-radius: 0.4rem; cursor: pointer; opacity: 0;
}
[data-testid="stChatMessage"]:hover .chat-copy-button, .chat-copy-button:focus { opacity: 1; }
/* With a mouse the button shows at the top right on hover: a gutter there keeps it off the words. */
@media (hover: hover) and (min-width: 40rem) { [data-testid="stChatMessage"] { padding-right: 5.75rem; } }
/* On a touch screen, or in a window too narrow to spare the gutter, the button sits at the bottom
   right, by the message's actions, clear of its text; on a touch screen it always shows. */
@media (hover: none), (max-width: 39.99rem) { .chat-copy-button { top: auto; bottom: 0.5rem; } }
@media (hover: none) { .chat-copy-button { opacity: 1; } }
"""

_SCRIPT = r"""
<script data-chat-app-behaviour>
(() => {
  if (window.__chatAppBehaviour) return;
  window.__chatAppBehaviour = true;
  const style = Object.assign(document.createElement("style"), { textContent: __STYLE__ });
  document.head.appendChild(style);
  const phone = () => window.matchMedia("(max-width: 640px)").matches;
  const stopButton = () => document.querySelector('[class*="st-key-stop-"] button');
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const stop = stopButton();
    if (stop) { event.preventDefault(); stop.click(); }
  });
  document.addEventListener("click", (event) => {
    const chosen = event.target.closest(
      '[data-testid="stSidebar"] [data-testid="stBaseButton-tertiary"], [data-testid="stSidebarNav"] a');
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

  // The text of a message as a person reads it: its Markdown blocks, without captions (figures),
  // expanders (steps, sources) or buttons.
  const CAPTION = '[data-testid="stCaptionContainer"]';
  const NOT_MESSAGE_TEXT = `[data-testid="stExpander"], ${CAPTION}, button`;
  const messageText = (message) =>
    [...message.querySelectorAll('[data-testid="stMarkdownContainer"]')]
      .filter((block) => !block.closest(NOT_MESSAGE_TEXT) && !block.querySelector(CAPTION))
      .map((block) => block.innerText.trim())
      .filter(Boolean)
      .join("\n\n");
  const copy = async (text) => {
    try { await navigator.clipboard.writeText(text); return true; } catch (error) {
      const area = Object.assign(document.createElement("textarea"), { value: text });
      document.body.appendChild(area); area.select();
      const copied = document.execCommand("copy"); area.remove(); return copied;
    }
  };
  const addCopyButtons = () => {
    for (const message of document.querySelectorAll('[data-testid="stChatMessage"]')) {
      if (message.querySelector(":scope > .chat-copy-button")) continue;
      const button = Object.assign(document.createElement("button"), {
        type: "button", className: "chat-copy-button", textContent: "Copy",
      });
      button.setAttribute("aria-label", "Copy message");
      button.addEventListener("click", async () => {
        button.textContent = (await copy(messageText(message))) ? "Copied" : "Copy failed";
        setTimeout(() => { button.textContent = "Copy"; }, 1500);
      });
      message.appendChild(button);
    }
  };
  const nameChatActions = () => {
    for (const holder of document.querySelectorAll('[data-testid="stSidebar"] [class*="st-key-actions-"]')) {
      // The chat's title button is the one just before it in the list's grid.
      const title = holder.previousElementSibling?.querySelector("button p");
      const name = title ? `Actions for ${title.innerText.trim()}` : "Chat actions";
      // Streamlit draws the button twice (with its tooltip, and without for touch screens).
      for (const button of holder.querySelectorAll("button")) {
        if (button.getAttribute("aria-label") !== name) button.setAttribute("aria-label", name);
      }
    }
  };
  const onChange = () => { addCopyButtons(); nameChatActions(); };
  new MutationObserver(onChange).observe(document.body, { childList: true, subtree: true });
  onChange();
})();
</script>
"""


# The style as a JavaScript string literal: JSON's escaping is JavaScript's, and "<" is escaped too,
# so that no "</script>" in it could end the script early.
_PAGE_BEHAVIOUR = _SCRIPT.replace("__STYLE__", json.dumps(_STYLE).replace("<", "\\u003c"), 1)


def add_page_behaviour() -> None:
    """Send the tab its behaviour; run_frame sends it once per tab."""
    st.html(_PAGE_BEHAVIOUR, unsafe_allow_javascript=True, width="content")
