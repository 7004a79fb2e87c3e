"""Fixtures that load the real TradingView captures in ``../shared/captures``.

Tests run with ``--import-mode=importlib``, where a helper module beside the tests is not
importable, so the shared loaders live here as session-scoped fixtures. Every capture test
is skipped, with the path in the reason, when the captures directory is absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tvframe.protocol import FrameDecoder, Heartbeat, encode_frame

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
HAR_TV = "anjanpoonacha_stock-tools__tv.har.ws.jsonl"
HAR_TC = "anjanpoonacha_stock-tools__trading-chart.har.ws.jsonl"
RS_SOCKET = "bitbytelabio_tradingview-rs__socket_messages.txt"
RS_EVENTS = "bitbytelabio_tradingview-rs__events.json"
SDK_BARS = "greatricky_tradingview-sdk__bars_btcusdt.json"
SNIPPETS = "snippets_from_sources.jsonl"


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    if not CAPTURES.is_dir():
        pytest.skip(f"TradingView captures not found at {CAPTURES}")
    return CAPTURES


@pytest.fixture(scope="session")
def load_har(captures_dir: Path) -> Callable[[str], list[dict[str, Any]]]:
    """Rows (``dir``, ``t``, ``opcode``, ``data``) of one ``*.ws.jsonl`` HAR export."""

    def load(name: str) -> list[dict[str, Any]]:
        lines = (captures_dir / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    return load


@pytest.fixture(scope="session")
def rs_socket_text(captures_dir: Path) -> str:
    return (captures_dir / RS_SOCKET).read_text(encoding="utf-8").rstrip("\r\n")


@pytest.fixture(scope="session")
def rs_events(captures_dir: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((captures_dir / RS_EVENTS).read_text("utf-8"))
    return events


@pytest.fixture(scope="session")
def sdk_bars_params(captures_dir: Path) -> list[Any]:
    params: list[Any] = json.loads((captures_dir / SDK_BARS).read_text("utf-8"))
    return params


@pytest.fixture(scope="session")
def snippets(captures_dir: Path) -> list[dict[str, Any]]:
    lines = (captures_dir / SNIPPETS).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def real_frames(
    load_har: Callable[[str], list[dict[str, Any]]],
    rs_socket_text: str,
    snippets: list[dict[str, Any]],
) -> list[str]:
    """Every single framed message of the captures (both directions), each on its own."""
    texts = [row["data"] for name in (HAR_TV, HAR_TC) for row in load_har(name)]
    texts.append(rs_socket_text)
    texts += [row["raw"] for row in snippets if row["raw"].startswith("~m~")]
    return [
        item.frame if isinstance(item, Heartbeat) else encode_frame(item)
        for text in texts
        for item in FrameDecoder().feed(text)
    ]
