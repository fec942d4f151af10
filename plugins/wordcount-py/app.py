"""wordcount-py: count the words, lines and characters of a text.

Input: ``{"text": "one two\\nthree"}``.
Output: ``{"words": 3, "lines": 2, "characters": 13}``.

Pure computation: the manifest asks for no capability at all.
"""

from airlock_sdk import ActionError, action


def count(text: str) -> dict:
    """Words (runs of non-whitespace), lines and characters of ``text``."""
    return {
        "words": len(text.split()),
        "lines": len(text.splitlines()),
        "characters": len(text),
    }


def run(input):
    text = input.get("text") if isinstance(input, dict) else None
    if not isinstance(text, str):
        raise ActionError('the input is {"text": "..."}')
    return count(text)


WitWorld = action(run)
