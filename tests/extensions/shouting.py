"""A TurnExtension as a team would write one, loaded by TURN_EXTENSION in the tests."""

from services.config import Settings
from services.extensions import PreparedPrompt, TurnInput
from services.model_clients.port import PromptMessage
from services.reply_details import Source


class HouseStyle:
    """Pre-processing: one more instruction and a source of its own; post-processing: a footer."""

    def prepare(self, turn: TurnInput) -> PreparedPrompt:
        prompt = [*turn.prompt[:-1], PromptMessage("system", "Answer in the house style."), turn.prompt[-1]]
        return PreparedPrompt(prompt, (Source(title="House style guide", text="Be brief."),))

    def finish(self, turn: TurnInput, reply: str) -> str:
        return f"{reply}\n\n-- answered for {turn.user}"


def house_style(settings: Settings) -> HouseStyle:
    return HouseStyle()
