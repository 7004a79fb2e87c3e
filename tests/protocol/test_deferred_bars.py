"""``Connection(defer_bars=True)``: big bar arrays wait in ``jobs()`` for the caller to parse
anywhere; events still come out in arrival order and equal what a plain Connection gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from tvframe.protocol import (
    Connection,
    Event,
    Heartbeat,
    TimescaleUpdate,
    barscan,
    encode_frame,
)
from tvframe.protocol.connection import DEFER_MIN_BYTES


def history(session: str, n: int, width: int = 6, first: float = 0.0) -> str:
    """A timescale_update of ``n`` bars shaped like the simulator's."""
    points = [
        {"i": i, "v": [first + 60.0 * i, 1.5 + i, 2e3 + i, 0.25, 1.75 + i, 10.0 * i][:width]}
        for i in range(n)
    ]
    body = {
        "m": "timescale_update",
        "p": [
            session,
            {"sds_1": {"node": "n1", "s": points, "ns": {"d": "", "indexes": []}, "t": "s1"}},
            {"index": n - 1, "zoffset": 0, "changes": [60.0 * i for i in range(n)],
             "marks": [[30, 60 * i, i] for i in range(n)], "index_diff": []},
        ],
    }  # fmt: skip
    return orjson.dumps(body).decode()


def completed(session: str) -> str:
    return orjson.dumps({"m": "series_completed", "p": [session, "sds_1", "s1"]}).decode()


def frame(*payloads: str) -> str:
    return "".join(encode_frame(p) for p in payloads) + "~m~4~m~~h~9"


def plain(events: list[Event]) -> list[Any]:
    """Events comparable with ==: bars as lists of columns."""
    out: list[Any] = []
    for event in events:
        if isinstance(event, TimescaleUpdate):
            bars = event.series[0].bars
            columns = [getattr(bars, name).tolist() for name in COLUMNS]
            out.append((event.session, str(columns)))  # str: NaN volumes compare equal
        else:
            out.append(event)
    return out


COLUMNS = ("index", "time", "open", "high", "low", "close", "volume")
BIG = 2000  # bars: rows far over DEFER_MIN_BYTES


def test_events_behind_an_unparsed_array_wait_and_all_come_out_in_order() -> None:
    text = frame(
        completed("cs_0"), history("cs_a", BIG), completed("cs_a"),
        history("cs_b", BIG, width=5, first=1e9), completed("cs_b"),
    )  # fmt: skip
    reference = Connection()
    reference.receive(text)
    expected = plain(reference.events())

    conn = Connection(defer_bars=True)
    conn.receive(text)
    first = conn.events()
    assert plain(first) == expected[:1]  # only what came before the first big array
    jobs = conn.jobs()
    assert [job.text.count for job in jobs] == [BIG, BIG] and conn.jobs() == []
    assert all(len(job.text.rows) >= DEFER_MIN_BYTES for job in jobs)
    # Parsed out of order: the second's events still wait for the first.
    conn.resolve(jobs[1], jobs[1].text.parse())
    assert conn.events() == []
    conn.resolve(jobs[0], jobs[0].text.parse())
    rest = conn.events()
    assert plain(first + rest) == expected
    assert isinstance(rest[-1], Heartbeat) and conn.data_to_send() == ["~m~4~m~~h~9"]
    assert conn.skipped == 0


def test_numbers_that_do_not_parse_are_decoded_as_json_and_skipped_when_json_refuses() -> None:
    good, bad = history("cs_a", BIG), history("cs_b", BIG)
    bad = bad.replace('"v":[60.0,', '"v":[60.0e,', 1)  # passes the shape check, not a number
    conn = Connection(defer_bars=True)
    conn.receive(frame(good, bad, completed("cs_b")))
    job_good, job_bad = conn.jobs()
    assert job_bad.text.parse() is None
    conn.resolve(job_good, None)  # a failed parse: the whole payload goes through JSON
    conn.resolve(job_bad, None)
    events = conn.events()
    reference = Connection()
    reference.receive(frame(good, completed("cs_b")))
    assert plain(events) == plain(reference.events())
    assert conn.skipped == 1 and conn.last_error is not None


def test_small_arrays_are_parsed_at_once_even_when_deferring() -> None:
    conn = Connection(defer_bars=True)
    small = history("cs_a", 300)  # over the scan's threshold, under the deferral's
    assert len(small) >= barscan.MIN_SCAN_CHARS
    conn.receive(frame(small))
    assert conn.jobs() == []
    event = conn.events()[0]
    assert isinstance(event, TimescaleUpdate) and len(event.series[0].bars) == 300


@pytest.mark.parametrize("widths", [(6, 6, 6), (5, 6, 5), (5,)])
def test_parse_texts_equals_one_parse_each(widths: tuple[int, ...]) -> None:
    texts = []
    for k, width in enumerate(widths):
        payload = history(f"cs_{k}", 100 + k, width, first=1e6 * k)
        cut = barscan.cut_payload(payload)
        assert cut is not None and cut.width == width
        texts.append(cut)
    together = barscan.parse_texts(texts)
    for text, columns in zip(texts, together, strict=True):
        alone = text.parse()
        assert columns is not None and alone is not None
        for a, b in zip(columns, alone, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype and a.flags.writeable


def test_parse_texts_finds_the_one_array_that_is_not_numbers() -> None:
    texts = [barscan.cut_payload(history(f"cs_{k}", 100)) for k in range(3)]
    assert all(t is not None for t in texts)
    broken = barscan.cut_payload(history("cs_x", 100).replace('"v":[60.0,', '"v":[6-0.0,', 1))
    assert broken is not None
    results = barscan.parse_texts([texts[0], broken, texts[1], texts[2]])  # type: ignore[list-item]
    assert results[1] is None
    assert [len(r[0]) for r in results if r is not None] == [100, 100, 100]
