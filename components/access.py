"""Settings and the current user for a page: quick to import and to run (no database, no SDK).

The frame needs both before it draws the menu, which must go out before anything slow.
"""

from __future__ import annotations

from typing import NoReturn

import streamlit as st
from pydantic import ValidationError

from services.config import Settings, describe_settings_error, get_settings
from services.identity import ACCESS_TOKEN_HEADER, IDENTITY_HEADERS, IdentityError, resolve_user
from services.views import User


class CannotServe(Exception):
    """The app cannot serve this visitor: its settings are invalid, or the visitor's identity is
    missing or not to be trusted. The message says what to do, for the page to show."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def settings_or_raise() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        raise CannotServe(
            describe_settings_error(error) + " Fix it in the environment or `.env`, then restart the app."
        ) from None


def current_user_or_raise(settings: Settings) -> User:
    try:
        # get_all keeps a repeated header visible, so that identity fails closed on it.
        names = (*IDENTITY_HEADERS, ACCESS_TOKEN_HEADER) if settings.model_calls_as_user else IDENTITY_HEADERS
        headers = {name: st.context.headers.get_all(name) for name in names}
        return resolve_user(headers, settings)
    except IdentityError as error:
        raise CannotServe(error.user_message) from None


def refuse(problem: CannotServe) -> NoReturn:
    """Say on the page why the app cannot serve, and end the run there."""
    st.error(problem.user_message)
    st.stop()


def settings_or_stop() -> Settings:
    try:
        return settings_or_raise()
    except CannotServe as problem:
        refuse(problem)


def current_user_or_stop(settings: Settings) -> User:
    try:
        return current_user_or_raise(settings)
    except CannotServe as problem:
        refuse(problem)
