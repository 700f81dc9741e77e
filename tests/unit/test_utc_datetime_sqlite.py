"""UTCDateTime's one-step SQLite binding stores exactly what SQLAlchemy's two steps do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from monitor.store.tables import UTCDateTime

DIALECT = sqlite.dialect()
FAST = UTCDateTime().bind_processor(DIALECT)
IMPL = UTCDateTime().impl.dialect_impl(DIALECT).bind_processor(DIALECT)


def two_steps(value: datetime | None) -> str | None:
    return IMPL(UTCDateTime().process_bind_param(value, DIALECT))


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                               timezone(-timedelta(hours=11))])))
def test_same_text_as_the_two_steps(value: datetime) -> None:
    assert FAST(value) == two_steps(value)


def test_none_and_naive() -> None:
    assert FAST(None) is None
    assert FAST(datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC)) == "0999-03-04 05:06:07.000000"
    with pytest.raises(ValueError, match="naive datetime"):
        FAST(datetime(2026, 1, 1))
