"""rules.jsontext: the same text as json.dumps, for any JSON value, from any thread."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.jsontext import dumps, encoder

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats()  # NaN and the infinities too: json.dumps writes them
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(VALUES)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


@given(
    st.lists(st.dictionaries(st.text(max_size=5), st.datetimes(timezones=st.just(UTC)) | SCALARS))
)
def test_an_encoder_with_a_default_writes_what_json_dumps_writes_with_it(value: Any) -> None:
    assert encoder(_iso)(value) == json.dumps(value, default=_iso)


def test_a_value_it_cannot_write_raises_as_json_dumps_does() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"when": datetime.now(UTC)})
    with pytest.raises(TypeError, match="cannot be written as JSON"):
        encoder(_iso)([object()])


def test_threads_sharing_it_each_get_their_own_text() -> None:
    values = [{"thread": n, "items": list(range(n % 7)), "name": f"t{n}" * n} for n in range(16)]
    expected = [json.dumps(v) for v in values]
    wrong: list[int] = []
    start = threading.Barrier(len(values))

    def work(n: int) -> None:
        start.wait()
        for _ in range(2000):
            if dumps(values[n]) != expected[n]:
                wrong.append(n)
                return

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(values))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
