"""Ledger entries and balances.

An entry is a dict with keys "date" (an ISO "YYYY-MM-DD" string),
"account" (a string) and "amount" (an integer number of cents).
"""


def make_entry(date, account, amount):
    """Build an entry dict, checking that amount is a whole number of cents."""
    if not isinstance(amount, int):
        raise TypeError("amount must be an int number of cents")
    return {"date": date, "account": account, "amount": amount}


def balance(entries, account=None):
    """Sum the amounts of entries, optionally only those of one account."""
    total = 0
    for entry in entries:
        if account is None or entry["account"] == account:
            total += entry["amount"]
    return total


def accounts(entries):
    """Return the sorted list of distinct account names."""
    return sorted({entry["account"] for entry in entries})
