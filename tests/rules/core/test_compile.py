"""The compiler's value writer: the hot-path shortcut writes exactly what the general path does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rules.core.engine.compile import Codec, number

NUMBERS = Codec("x", "v0", "number")
STRINGS = Codec("s", "v1", "string", ("", "a", "b", "é"))
BOOLEANS = Codec("b", "v2", "boolean")


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)))
def test_numbers_are_written_as_the_general_path_writes_them(value: float) -> None:
    assert NUMBERS.write(value) == number(NUMBERS.encode(value))
    assert float(NUMBERS.write(value)) == float(value)


@given(st.one_of(st.sampled_from(["", "a", "b", "é", "aa", "c"]), st.text(max_size=4)))
def test_strings_are_written_as_their_order_preserving_codes(value: str) -> None:
    assert STRINGS.write(value) == number(STRINGS.encode(value))


def test_booleans_are_written_as_zero_and_one() -> None:
    assert (BOOLEANS.write(True), BOOLEANS.write(False)) == ("1.0", "0.0")
    assert NUMBERS.write(1e-07) == "1.0e-07"
