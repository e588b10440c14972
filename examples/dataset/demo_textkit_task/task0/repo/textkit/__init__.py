"""textkit: small, dependency-free text helpers."""

from textkit.core import normalize_space, slugify, truncate
from textkit.stats import char_frequencies, word_count

__all__ = ["char_frequencies", "normalize_space", "slugify", "truncate", "word_count"]
