from datetime import UTC, datetime


def utcnow() -> datetime:
    """Column default: evaluated per row, never at import time."""
    return datetime.now(UTC)
