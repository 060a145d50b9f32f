import threading
import time
import uuid

from services.reply_buffer import TurnBuffer, TurnOutcome


def test_stream_batches_yields_everything_once_in_order_and_ends_when_done() -> None:
    buffer = TurnBuffer(uuid.uuid4())
    words = [f"w{i} " for i in range(200)]

    def produce() -> None:
        for word in words:
            buffer.append(word)
            time.sleep(0.001)
        buffer.finish(TurnOutcome("complete", "".join(words), None))

    threading.Thread(target=produce).start()
    batches = list(buffer.stream_batches(interval_seconds=0.02))
    assert "".join(batches) == "".join(words)
    # Batched, not one yield per token: far fewer yields than words.
    assert len(batches) < len(words) / 3


def test_a_reader_attaching_late_gets_the_whole_text() -> None:
    buffer = TurnBuffer(uuid.uuid4())
    buffer.append("already ")
    buffer.append("written")
    buffer.finish(TurnOutcome("complete", "already written", None))
    assert "".join(buffer.stream_batches(interval_seconds=0.01)) == "already written"


def test_model_titles_are_cleaned_to_one_short_line() -> None:
    from services.titles import clean_model_title

    assert clean_model_title('"Trip to Lisbon."\nExtra line') == "Trip to Lisbon"
    assert clean_model_title("Title: **Budget review**") == "Budget review"
    assert clean_model_title("   \n  ") == ""
    assert len(clean_model_title("word " * 40)) <= 60
