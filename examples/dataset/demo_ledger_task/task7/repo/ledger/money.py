"""Conversions between integer cents and decimal strings."""


def parse_amount(text):
    """Parse a decimal string such as "12.34" or "-5" into integer cents."""
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("+-").partition(".")
    if not whole.isdigit() or len(frac) > 2 or (frac and not frac.isdigit()):
        raise ValueError(f"not an amount: {text!r}")
    return sign * (int(whole) * 100 + int(frac.ljust(2, "0")))


def format_amount(cents):
    """Format integer cents as a decimal string with two places: 1234 -> "12.34"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"
