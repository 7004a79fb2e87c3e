"""Security: the token stays secret (logs, reprs, errors, exported files); TLS is verified;
file names built from data never leave their folder; writes are atomic; nothing the server
sends is ever evaluated."""

from __future__ import annotations

import ast
import asyncio
import csv
import datetime as dt
import ipaddress
import logging
import ssl
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import pyarrow.csv
import pyarrow.parquet
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve

import tvframe as tv
from tests.faults.figures import Figures
from tests.faults.helpers import Collected, fast_backoff, read_until, start_reading
from tvframe import Client
from tvframe.client import resolve_token
from tvframe.errors import AuthError, InvalidArgumentError, TvFrameError, WebSocketException
from tvframe.export import export_data, write_csv, write_json, write_parquet
from tvframe.io import to_csv, to_json, to_parquet
from tvframe.liveframe import live
from tvframe.meta import FrameMeta, attach_meta
from tvframe.models import ExportConfig, OHLCData, StreamConfig
from tvframe.plot import plot
from tvframe.sim import running
from tvframe.streamer import RealtimeStreamer

PACKAGE = Path(__file__).resolve().parents[2] / "tvframe"
# JWT-shaped (the simulator accepts those); every segment is distinctive.
TOKEN = "eyJzZWNyZXQiOiJoZWFkZXIifQ.c2VjcmV0LXBheWxvYWQtYm9keQ.c2lnbmF0dXJlLXNlY3JldA"
SERVER_SIDE = ("tvframe.sim", "websockets.server")  # the simulator is the party the token is for


def leaks(text: str) -> list[str]:
    """Every 8-character piece of the token found in ``text``."""
    return sorted({TOKEN[i : i + 8] for i in range(len(TOKEN) - 7) if TOKEN[i : i + 8] in text})


def record_text(record: logging.LogRecord) -> str:
    parts = [record.name, record.getMessage(), record.exc_text or ""]
    if record.exc_info and record.exc_info[1] is not None:
        parts += traceback.format_exception(record.exc_info[1])
    return "\n".join(parts)


def chain_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


# --- the token -------------------------------------------------------------------------------


def whole_session(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """History, a stream with a reconnect, quotes and a live frame, all with the token;
    every log record at DEBUG, the simulator's own excepted."""
    caplog.set_level(logging.DEBUG)

    async def async_part(sim: Any) -> None:
        async with Client(sim.url, TOKEN, reconnect_delays=fast_backoff) as client:
            await client.history("NASDAQ:AAPL", "1m", 20)
            got = Collected()
            async with client.stream(["BINANCE:BTCUSDT"], "1m", n_bars=3) as stream:
                await start_reading(stream, got, ["BINANCE:BTCUSDT"])
                sim.faults.drop()  # the reconnect sends the token again
                sim.advance(60)
                await read_until(stream, got, lambda: bool(got.reconnects))

    with running() as sim:
        asyncio.run(async_part(sim))
        tv.history("NASDAQ:AAPL", "1m", 10, url=sim.url, token=TOKEN)
        tv.quote("NASDAQ:AAPL", url=sim.url, token=TOKEN)
        with live("BINANCE:BTCUSDT", "1m", 5, url=sim.url, token=TOKEN) as lf:
            sim.advance(60)
            lf.wait(1, timeout=10)
    return [r for r in caplog.records if not r.name.startswith(SERVER_SIDE)]


def test_the_token_is_in_no_tvframe_log_record(
    caplog: pytest.LogCaptureFixture, figures: Figures
) -> None:
    records = whole_session(caplog)
    ours = [r for r in records if r.name.startswith("tvframe")]
    found = {r.name: leaks(record_text(r)) for r in ours if leaks(record_text(r))}
    assert not found
    assert len(ours) >= 3  # the reconnect was logged
    assert any(r.name.startswith("websockets.client") for r in records)  # DEBUG was on
    figures.record(
        "token over a whole session at DEBUG (history, stream + reconnect, quote, live)",
        tvframe_records=len(ours), records_with_token=0,
    )  # fmt: skip


def test_the_token_is_in_no_client_side_log_record(caplog: pytest.LogCaptureFixture) -> None:
    records = whole_session(caplog)
    found = {r.name: leaks(record_text(r)) for r in records if leaks(record_text(r))}
    assert not found


def test_the_token_is_in_no_repr(figures: Figures) -> None:
    config = StreamConfig(symbols=["NASDAQ:AAPL"], websocket_jwt_token=TOKEN)
    streamer = RealtimeStreamer(config, export_config=ExportConfig(export_result=True))
    client = Client("ws://127.0.0.1:9/socket.io/websocket", TOKEN)
    objects: list[Any] = [
        config, streamer, client, client.stream("NASDAQ:AAPL", "1m"), resolve_token(TOKEN),
    ]  # fmt: skip
    with running() as sim:
        history = asyncio.run(_history(sim.url))
        with live("NASDAQ:AAPL", "1m", 5, url=sim.url, token=TOKEN) as lf:
            objects += [history, history.info, lf]
            texts = [f(o) for o in objects for f in (repr, str)]
    found = [text for text in texts if leaks(text)]
    assert not found
    figures.record("token in repr/str of every public object", objects=len(objects), leaks=0)


async def _history(url: str) -> Any:
    async with Client(url, TOKEN) as client:
        return await client.history("NASDAQ:AAPL", "1m", 5)


def test_the_token_is_in_no_error(figures: Figures) -> None:
    errors: list[BaseException] = []
    with running(accept_token=lambda token: False) as sim:
        with pytest.raises(AuthError) as rejected:
            tv.history("NASDAQ:AAPL", "1m", 10, url=sim.url, token=TOKEN)
        errors.append(rejected.value)

        async def stream_rejected() -> None:
            async with Client(sim.url, TOKEN) as client, client.stream("NASDAQ:AAPL", "1m") as s:
                await s.__anext__()

        with pytest.raises(AuthError) as rejected_stream:
            asyncio.run(stream_rejected())
        errors.append(rejected_stream.value)
    with pytest.raises(WebSocketException) as unreachable:
        tv.history("NASDAQ:AAPL", "1m", 10, url="ws://127.0.0.1:9/x", token=TOKEN)
    errors.append(unreachable.value)
    with pytest.raises(InvalidArgumentError) as malformed:
        Client(token=TOKEN + " x")
    errors.append(malformed.value)
    found = [chain_text(e) for e in errors if leaks(chain_text(e))]
    assert not found
    assert "bad auth token" in str(rejected.value)
    figures.record("token in error messages and their chains", errors=len(errors), leaks=0)


def test_the_token_is_in_no_exported_file(tmp_path: Path, figures: Figures) -> None:
    files: list[Path] = []
    with running() as sim:
        for kind in ("json", "csv", "parquet"):
            config = StreamConfig(timeframe="1m", num_candles=5, websocket_jwt_token=TOKEN)
            export = ExportConfig(export_result=True, export_type=kind, directory=tmp_path)
            streamer = RealtimeStreamer(export_config=export, stream_config=config, url=sim.url)
            asyncio.run(_collect(streamer))
        frame = tv.history("NASDAQ:AAPL", "1m", 10, url=sim.url, token=TOKEN)
        files += [to_csv(frame, tmp_path), to_json(frame, tmp_path), to_parquet(frame, tmp_path)]
    files += sorted(tmp_path.glob("ohlc_*"))
    assert len(files) == 6
    found = {f.name: leaks(f.read_bytes().decode("latin-1")) for f in files}
    assert not any(found.values()), found
    figures.record("token in exported files (seed exports, to_csv/json/parquet)", files=6, leaks=0)


async def _collect(streamer: RealtimeStreamer) -> None:
    result = await streamer.stream(exchange="NASDAQ", symbol="AAPL")
    assert len(getattr(result, "ohlc", [])) == 5


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by nobody but itself."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_a_self_signed_wss_server_is_refused(
    self_signed: tuple[Path, Path], figures: Figures
) -> None:
    cert, key = self_signed
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    sessions: list[ServerConnection] = []

    async def handler(ws: ServerConnection) -> None:
        sessions.append(ws)
        await ws.send('~m~19~m~{"session_id":"x"}')
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, ssl=server_tls) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"wss://127.0.0.1:{port}/socket.io/websocket"
        with pytest.raises(WebSocketException, match="CERTIFICATE_VERIFY_FAILED"):
            async with Client(url, timeout=5):
                pass
        with pytest.raises(TvFrameError, match="CERTIFICATE_VERIFY_FAILED"):
            await tv.asearch("AAPL", url=f"https://127.0.0.1:{port}/symbol_search/v3/")
        # The control: trusting the certificate, the same server answers.
        trusting = ssl.create_default_context(cafile=str(cert))
        async with ws_connect(url, ssl=trusting) as ws:
            assert "session_id" in str(await ws.recv())
    assert len(sessions) == 1  # only the control got through
    figures.record("self-signed wss:// and https:// servers", connected=0, refused=2)


async def test_wss_uses_a_verifying_tls_context(
    monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    seen: dict[str, Any] = {}

    async def spy(url: str, **kwargs: Any) -> Any:
        seen.update(kwargs, url=url)
        raise OSError("stop here")

    monkeypatch.setattr("tvframe.client.connect", spy)
    with pytest.raises(WebSocketException):
        await Client("wss://data.tradingview.com/socket.io/websocket").connect()
    context = seen.get("ssl")
    # None means websockets' own ssl.create_default_context(): verifying, hostname checked.
    context = context if isinstance(context, ssl.SSLContext) else ssl.create_default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    figures.record("the TLS context a wss:// Client uses", verify_mode="CERT_REQUIRED")


def test_no_code_turns_tls_verification_off(figures: Figures) -> None:
    forbidden = ("CERT_NONE", "check_hostname = False", "_create_unverified_context",
                 "verify=False", "PYTHONHTTPSVERIFY")  # fmt: skip
    hits = [
        f"{path.relative_to(PACKAGE)}: {word}"
        for path in PACKAGE.rglob("*.py")
        for word in forbidden
        if word in path.read_text("utf-8")
    ]
    assert not hits
    figures.record("CERT_NONE / check_hostname=False / unverified contexts in tvframe/", hits=0)


# --- nothing evaluated -----------------------------------------------------------------------


BANNED_CALLS = {"eval", "exec", "compile", "__import__", "input"}
BANNED_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "yaml", "jsonpickle"}


def banned(node: ast.AST) -> str | None:
    """What is wrong with ``node``: a call that evaluates text, or a deserializer of code."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return f"{node.func.id}()" if node.func.id in BANNED_CALLS else None
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.split(".")[0] in BANNED_MODULES]
        return f"import {', '.join(names)}" if names else None
    if isinstance(node, ast.ImportFrom) and node.module:
        return f"from {node.module}" if node.module.split(".")[0] in BANNED_MODULES else None
    return None


def test_nothing_from_the_server_is_ever_evaluated(figures: Figures) -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    hits = [
        f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)} {problem}"
        for path in files
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path)))
        if (problem := banned(node)) is not None
    ]
    assert not hits
    assert len(files) > 30
    assert banned(ast.parse("eval(x)").body[0].value) == "eval()"  # type: ignore[attr-defined]
    figures.record("eval/exec/compile/pickle/marshal/yaml in tvframe/", files=len(files), hits=0)


# --- file names and atomic writes ------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/x", "..\\..\\windows\\x", "C:\\x", "/abs/path", "CON", "nul.txt", "LPT1",
    "a\x00b", "x" * 5000, "~/x", "$HOME", "a:b|c?d*e", "é📈",
]  # fmt: skip


RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(10))}


def inside(folder: Path, written: Path) -> bool:
    return written.resolve().parent == folder.resolve() and written.exists()


def test_seed_export_names_never_leave_the_folder(tmp_path: Path, figures: Figures) -> None:
    bar = OHLCData(index=0, timestamp=60.0, open=1, high=2, low=0.5, close=1.5)
    written = refused = 0
    for name in HOSTILE_NAMES:
        for part in ("symbol", "timeframe", "data_category"):
            args: dict[str, Any] = {"symbol": "X:Y", "timeframe": "1m", "data_category": "ohlc"}
            args[part] = name
            for kind in ("json", "csv", "parquet"):
                try:
                    path = export_data([bar], export_type=kind, directory=tmp_path, **args)
                except InvalidArgumentError as exc:  # nothing usable left: the value is named
                    assert repr(name) in str(exc)
                    refused += 1
                    continue
                assert inside(tmp_path, path), (part, name, path)
                assert len(path.name) < 255 and "\x00" not in path.name
                assert path.name.split(".")[0].upper() not in RESERVED
                written += 1
    assert len(list(tmp_path.iterdir())) == written  # nothing anywhere else, no temp file
    assert written > refused
    figures.record(
        "hostile symbol/timeframe/category in seed export names", names=len(HOSTILE_NAMES),
        files=written, refused_by_name=refused, escaped=0,
    )  # fmt: skip


def frame_of(symbols: list[str], interval: str) -> pd.DataFrame:
    times = pd.DatetimeIndex([pd.Timestamp("2024-01-02 14:30", tz="UTC")] * len(symbols))
    frame: pd.DataFrame = pd.DataFrame(
        {"symbol": symbols, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 1.0},
        index=times.rename("time"),
    )
    attach_meta(frame, FrameMeta(interval, "UTC", {}, {}))
    return frame


@pytest.mark.parametrize("writer", [to_csv, to_json, to_parquet])
def test_default_frame_file_names_never_leave_the_folder(
    writer: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    monkeypatch.chdir(tmp_path)
    names = [n for n in HOSTILE_NAMES if any(c.isascii() and c.isalnum() for c in n)]
    for name in names:
        symbols = [f"X:{name}", f"{name}:Y"]
        into = writer(frame_of(symbols, name), tmp_path)  # a folder: the default name inside
        assert inside(tmp_path, into), (name, into)
        default = writer(frame_of(symbols, name))  # no path: under ./export/
        assert inside(tmp_path / "export", default), (name, default)
        assert into.name.split(".")[0].upper() not in RESERVED
    assert len([p for p in tmp_path.iterdir() if p.is_file()]) == len(names)
    assert len(list((tmp_path / "export").iterdir())) == len(names)
    figures.record(
        f"hostile symbols and interval in {writer.__name__} default names",
        names=len(names), files=2 * len(names), escaped=0,
    )  # fmt: skip


@pytest.mark.parametrize("writer", ["plot", "write_json"])
def test_a_folder_given_as_the_file_keeps_the_file_inside_or_is_refused(
    writer: str, tmp_path: Path
) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    frame = frame_of(["NASDAQ:AAPL"], "1m")
    try:
        if writer == "plot":
            plot(frame, folder)
        else:
            write_json(frame, folder)
    except TvFrameError:
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["charts"]


# Each writer's serializer replaced by one that writes part of the file, then fails as a
# full disk does.
def _disk_full() -> NoReturn:
    raise OSError(28, "No space left on device")


_WRITE_BYTES = Path.write_bytes


def _half_write_bytes(self: Path, data: bytes) -> int:
    _WRITE_BYTES(self, data[: len(data) // 2])
    _disk_full()


def _partial_csv(data: Any, output: Any, *args: Any, **kwargs: Any) -> None:
    output.write(b"partial")
    _disk_full()


def _partial_table(table: Any, where: Any, *args: Any, **kwargs: Any) -> None:
    Path(where).write_bytes(b"PAR1partial")
    _disk_full()


def _partial_rows(self: csv.DictWriter[str], rows: Any) -> None:
    self.writerow(next(iter(rows)))
    _disk_full()


def _partial_png(self: Any, fname: Any, *args: Any, **kwargs: Any) -> None:
    Path(fname).write_bytes(b"\x89PNGpartial")
    _disk_full()


def _failing(writer: str) -> tuple[Any, str, Any, Callable[[Path], object]]:
    """(object, attribute, fake, call): the call writes with the attribute replaced."""
    frame = frame_of(["NASDAQ:AAPL"], "1m")
    bars = [OHLCData(index=0, timestamp=60.0, open=1, high=2, low=0.5, close=1.5)]
    if writer == "plot":
        figure = pytest.importorskip("matplotlib.figure").Figure
        return figure, "savefig", _partial_png, lambda p: plot(frame, p)
    return {
        "to_csv": (pyarrow.csv, "write_csv", _partial_csv, lambda p: to_csv(frame, p)),
        "to_json": (Path, "write_bytes", _half_write_bytes, lambda p: to_json(frame, p)),
        "to_parquet": (
            pyarrow.parquet, "write_table", _partial_table, lambda p: to_parquet(frame, p)
        ),
        "write_json": (Path, "write_bytes", _half_write_bytes, lambda p: write_json(bars, p)),
        "write_csv": (csv.DictWriter, "writerows", _partial_rows, lambda p: write_csv(bars, p)),
        "write_parquet": (
            pyarrow.parquet, "write_table", _partial_table, lambda p: write_parquet(bars, p)
        ),
    }[writer]  # fmt: skip


@pytest.fixture
def keep(tmp_path: Path) -> Iterator[Path]:
    """A file already in the folder, which no failed write may touch."""
    path = tmp_path / "keep.bin"
    path.write_bytes(b"keep me")
    yield path
    assert path.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    "writer",
    ["to_csv", "to_json", "to_parquet", "write_json", "write_csv", "write_parquet", "plot"],
)
def test_a_writer_failing_midway_leaves_no_file(
    writer: str, tmp_path: Path, keep: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    owner, attribute, fake, call = _failing(writer)
    with monkeypatch.context() as patched:
        patched.setattr(owner, attribute, fake)
        with pytest.raises(OSError, match="No space"):
            call(tmp_path / "new.out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [keep.name]  # no partial, no temp
    call(tmp_path / "new.out")  # the control: unpatched, the same call writes the file
    assert (tmp_path / "new.out").stat().st_size > 20
    figures.record(f"{writer} fails half-way through its file", leftover_files=0)
