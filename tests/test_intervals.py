import pytest

from tvframe.errors import InvalidIntervalError
from tvframe.intervals import SEED_INTERVALS, from_resolution, parse_interval

EXPECTED = {
    "1m": ("1", 60),
    "5m": ("5", 300),
    "15m": ("15", 900),
    "30m": ("30", 1800),
    "1h": ("60", 3600),
    "2h": ("120", 7200),
    "4h": ("240", 14400),
    "1d": ("1D", 86400),
    "1w": ("1W", 604800),
    "1M": ("1M", 2592000),
}


@pytest.mark.parametrize("text", SEED_INTERVALS)
def test_seed_intervals_map_to_protocol_resolutions(text: str) -> None:
    iv = parse_interval(text)
    assert (iv.resolution, iv.seconds) == EXPECTED[text]
    assert from_resolution(iv.resolution) == iv


def test_minute_and_month_differ_by_case() -> None:
    assert parse_interval("1m").seconds == 60
    assert parse_interval("1M").seconds == 30 * 86400


@pytest.mark.parametrize(
    ("text", "resolution"),
    [("3m", "3"), ("45m", "45"), ("3h", "180"), ("15s", "15S"), ("3M", "3M")],
)
def test_other_counts(text: str, resolution: str) -> None:
    assert parse_interval(text).resolution == resolution


@pytest.mark.parametrize(
    "bad", ["", "1", "m", "1min", "0m", "1y", "15M5", " 5x", "1H", "1D", "99h"]
)
def test_bad_spellings_name_the_value(bad: str) -> None:
    with pytest.raises(InvalidIntervalError) as info:
        parse_interval(bad)
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidIntervalError, match="int"):
        parse_interval(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("res", "text"), [("D", "1d"), ("W", "1w"), ("M", "1M"), ("90", "90m")])
def test_from_resolution_short_forms(res: str, text: str) -> None:
    assert from_resolution(res).text == text


@pytest.mark.parametrize("bad", ["", "XX", "1h", "0"])
def test_from_resolution_rejects(bad: str) -> None:
    with pytest.raises(InvalidIntervalError):
        from_resolution(bad)
