import pytest

from services.text import InvalidMessage, check_user_message, make_storable


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_empty_or_blank_text_is_refused(text: str | None) -> None:
    with pytest.raises(InvalidMessage, match="empty"):
        check_user_message(text, max_chars=100)


def test_text_over_the_limit_is_refused_with_both_numbers() -> None:
    with pytest.raises(InvalidMessage) as caught:
        check_user_message("x" * 101, max_chars=100)
    assert "101 characters" in caught.value.user_message
    assert "limit is 100" in caught.value.user_message


def test_nul_and_lone_surrogates_are_replaced_and_counted() -> None:
    stored = make_storable("a\x00b\ud800c\udfffd")
    assert stored.text == "a\ufffdb\ufffdc\ufffdd"
    assert stored.replaced == 3
    stored.text.encode("utf-8")  # now encodable


def test_valid_emoji_and_other_scripts_pass_untouched() -> None:
    text = "Grüße 👋🏽 مرحبا 你好"
    assert check_user_message(text, max_chars=100).text == text
