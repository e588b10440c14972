"""ledger: a tiny bookkeeping library."""

from ledger.core import accounts, balance, make_entry
from ledger.money import format_amount, parse_amount

__all__ = ["accounts", "balance", "format_amount", "make_entry", "parse_amount"]
