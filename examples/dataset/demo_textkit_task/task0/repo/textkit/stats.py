"""Counting helpers."""


def word_count(text):
    """Return the number of whitespace-separated words in text."""
    return len(text.split())


def char_frequencies(text, ignore_case=False):
    """Return a dict mapping each non-space character of text to its count."""
    if ignore_case:
        text = text.lower()
    counts = {}
    for ch in text:
        if not ch.isspace():
            counts[ch] = counts.get(ch, 0) + 1
    return counts
