from __future__ import annotations

import pytest

from pytest_modelprov.calls.reasoning import split_message, split_think


@pytest.mark.parametrize(
    ("content", "answer", "reasoning"),
    [
        ("plain answer", "plain answer", None),
        ("<think>hmm</think>\n\nI am Lumen.", "I am Lumen.", "hmm"),
        ("<THINK>a</THINK>x<think>b</think>y", "xy", "a\n\nb"),
        ("started in the prompt</think>The answer.", "The answer.", "started in the prompt"),
        ("<think>never finished because of max_tokens", "", "never finished because of max_tokens"),
        (
            "An answer that mentions <think> tags in passing",
            "An answer that mentions <think> tags in passing",
            None,
        ),
        ("<thinking>t</thinking>A", "A", "t"),
        ("<think>a</think>Answer. <think>cut off", "Answer.", "a\n\ncut off"),
    ],
)
def test_split_think(content, answer, reasoning):
    assert split_think(content) == (answer, reasoning)


def test_reasoning_field_and_think_block_are_both_kept():
    message = {"content": "<think>inline</think>Final", "reasoning_content": "field"}
    assert split_message(message) == ("Final", "field\n\ninline")


def test_openrouter_reasoning_field():
    assert split_message({"content": "A", "reasoning": "R"}) == ("A", "R")


def test_content_parts_and_null_content():
    assert split_message({"content": [{"type": "text", "text": "a"}, {"text": "b"}]}) == (
        "ab",
        None,
    )
    assert split_message({"content": None, "reasoning_content": "r"}) == ("", "r")
