from textkit.core import normalize_space, slugify, truncate
from textkit.stats import char_frequencies, word_count


def test_normalize_space():
    assert normalize_space("  hello \t  world\n") == "hello world"
    assert normalize_space("") == ""


def test_truncate_short_text_is_unchanged():
    assert truncate("hello", 10) == "hello"
    assert truncate("hello", 5) == "hello"


def test_truncate_adds_suffix():
    assert truncate("hello world", 8) == "hello..."
    assert truncate("hello world", 8, suffix="~") == "hello w~"
    assert truncate("hello world", 2) == ".."


def test_slugify():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  Many   spaces here ") == "many-spaces-here"


def test_word_count():
    assert word_count("one two  three") == 3
    assert word_count("   ") == 0


def test_char_frequencies():
    assert char_frequencies("aab a") == {"a": 3, "b": 1}
    assert char_frequencies("Aa", ignore_case=True) == {"a": 2}
