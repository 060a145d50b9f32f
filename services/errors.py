"""Every error a person is shown derives from `UserError`: it carries the message to show (what
happened and what to do) and nothing else, so a page handles them all with one `except UserError`.

The errors more than one service raises live here, so services share them without importing each
other; an error only one service raises lives beside it. `UserError` is not a `ValueError`: code
that catches `ValueError` (a bad UUID, a bad number) never swallows one by accident.
"""

from __future__ import annotations


class UserError(Exception):
    """A request the app refused or could not carry out; `user_message` says what to do."""

    user_message: str = "Something went wrong. Reload the page and try again."

    def __init__(self, user_message: str | None = None) -> None:
        if user_message is not None:
            self.user_message = user_message
        super().__init__(self.user_message)


class SessionNotFound(UserError):
    """No such chat for this user: it does not exist, was deleted, or belongs to someone else
    (the message is the same for all three, so an id reveals nothing)."""

    user_message = "That conversation was not found. It may have been deleted, or the link is wrong."


class TurnInProgress(UserError):
    user_message = "A reply is still being written in this conversation. Wait for it, or press Stop."


class ReplyNotFound(UserError):
    user_message = "That reply was not found; it may have been deleted."


class NotAnAdmin(UserError):
    user_message = (
        "This page is for the app's admins, and you are not one. If you need it, ask whoever runs this "
        "app to add you."
    )
