"""Two-way replies (F19): STOP, UNSUBSCRIBE, END, QUIT and CANCEL opt the number out."""

from __future__ import annotations

import pytest

from domain.replies import STOP_WORDS, opts_out


@pytest.mark.parametrize("word", sorted(STOP_WORDS))
def test_each_stop_word_on_its_own_opts_out(word: str) -> None:
    assert opts_out(word)


def test_the_stop_words_are_the_five_of_the_spec() -> None:
    assert {"STOP", "UNSUBSCRIBE", "END", "QUIT", "CANCEL"} == STOP_WORDS


@pytest.mark.parametrize("text", ["stop", "Stop", "sToP", "unsubscribe", "Cancel", "quit"])
def test_a_stop_word_opts_out_in_any_case(text: str) -> None:
    assert opts_out(text)


@pytest.mark.parametrize("text", ["STOP.", "Stop!", "stop!!", "STOP,", "End;", "quit:", "STOP!."])
def test_punctuation_after_the_stop_word_is_ignored(text: str) -> None:
    assert opts_out(text)


@pytest.mark.parametrize("text", ["  STOP  ", "\nstop\n", "\tSTOP"])
def test_surrounding_whitespace_is_ignored(text: str) -> None:
    assert opts_out(text)


@pytest.mark.parametrize("text", ["STOP please", "Stop sending me these", "unsubscribe me now"])
def test_a_stop_word_as_the_first_word_of_a_sentence_opts_out(text: str) -> None:
    assert opts_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "Please stop",
        "Can you stop?",
        "I will not STOP buying",
        "Thanks!",
        "When does it end?",
        "Great, see you",
    ],
)
def test_a_stop_word_that_is_not_the_first_word_does_not_opt_out(text: str) -> None:
    assert not opts_out(text)


@pytest.mark.parametrize("text", ["STOPPED", "stopwatch", "Ending soon?", "Endless", "quitting"])
def test_a_word_that_only_starts_like_a_stop_word_does_not_opt_out(text: str) -> None:
    assert not opts_out(text)


@pytest.mark.parametrize("text", ["", "   ", "\n", "!!!"])
def test_an_empty_reply_does_not_opt_out(text: str) -> None:
    assert not opts_out(text)
