"""The integer option type every command shares: decimal or prefixed, within its range."""

import click
import pytest

from emulator.cli.params import Int


@pytest.mark.parametrize(
    ("text", "value"), [("42", 42), ("0x2A", 42), ("0o52", 42), ("0b101010", 42), ("1_000", 1000)]
)
def test_accepts_decimal_and_prefixed(text, value):
    assert Int(0, 0xFFFF).convert(text, None, None) == value


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (Int(1, 0xFF), "0x100", "0x100 is not in the range [1, 255 (0xff)]"),
        (Int(0), "-3", "-3 is below the minimum 0"),
        (Int(None, 10), "11", "11 is above the maximum 10 (0xa)"),
        (Int(), "ten", "'ten' is not an integer (decimal or 0x-prefixed hex)"),
    ],
)
def test_refuses_with_a_reason(kind, text, message):
    with pytest.raises(click.BadParameter) as err:
        kind.convert(text, None, None)
    assert err.value.message == message
