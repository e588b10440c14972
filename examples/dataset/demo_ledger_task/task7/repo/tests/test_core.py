import pytest
from ledger.core import accounts, balance, make_entry
from ledger.money import format_amount, parse_amount

ENTRIES = [
    make_entry("2024-01-05", "cash", 10000),
    make_entry("2024-01-09", "food", -2550),
    make_entry("2024-02-01", "cash", -1000),
]


def test_make_entry_requires_cents():
    assert make_entry("2024-01-01", "cash", 5)["amount"] == 5
    with pytest.raises(TypeError):
        make_entry("2024-01-01", "cash", 1.5)


def test_balance():
    assert balance(ENTRIES) == 6450
    assert balance(ENTRIES, "cash") == 9000
    assert balance([]) == 0


def test_accounts():
    assert accounts(ENTRIES) == ["cash", "food"]


def test_parse_amount():
    assert parse_amount("12.34") == 1234
    assert parse_amount("-5") == -500
    assert parse_amount(" 0.5 ") == 50
    with pytest.raises(ValueError):
        parse_amount("1.234")


def test_format_amount():
    assert format_amount(1234) == "12.34"
    assert format_amount(-5) == "-0.05"
    assert format_amount(0) == "0.00"
