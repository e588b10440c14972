"""Core string helpers."""


def normalize_space(text):
    """Collapse runs of whitespace into single spaces and strip both ends."""
    return " ".join(text.split())


def truncate(text, width, suffix="..."):
    """Shorten text to at most width characters, ending with suffix when cut."""
    if len(text) <= width:
        return text
    if width <= len(suffix):
        return suffix[:width]
    return text[: width - len(suffix)] + suffix


def slugify(text):
    """Lowercase text and join its alphanumeric words with hyphens."""
    words = []
    for word in normalize_space(text).lower().split(" "):
        cleaned = "".join(ch for ch in word if ch.isalnum())
        if cleaned:
            words.append(cleaned)
    return "-".join(words)
