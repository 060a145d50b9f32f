"""The base of every error a person is shown: it carries the message to show, and nothing else."""


class UserError(ValueError):
    """Input or a request the app refused; `user_message` says what happened and what to do."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message
