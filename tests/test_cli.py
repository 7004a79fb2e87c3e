"""The ``tvframe`` command: every command in-process against the simulator; exit codes and
"one line, no traceback" in-process and as subprocesses; ``live`` under a pseudo-terminal."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import tvframe as tv
from tvframe import cli
from tvframe.sim import SimHandle
from tvframe.terminal import Screen, bars_lines, number, quote_lines, table

COMMANDS = ["history", "live", "quote", "search", "sim", "demo"]
REDRAW = re.compile(rb"\x1b\[\d+A")
ANSI = re.compile(r"\x1b\[\d*[A-Za-z]")
TABLE_LINE = re.compile(r"symbol +time|[- ]+$|BINANCE:BTCUSDT ")
MAIN = threading.main_thread()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``tvframe argv`` in-process: the exit code, stdout and stderr."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``, expect argparse's exit 2 and return its message."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


def pandas(frame: object) -> pd.DataFrame:
    """A frame of tvframe's default backend, typed as such."""
    assert isinstance(frame, pd.DataFrame)
    return frame


# --- help and usage ---------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"tvframe {tv.__version__}"


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_every_help_shows_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([name, "--help"] if name else ["--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    examples = out.split("examples:\n", 1)[1].splitlines()
    assert any(line.strip().startswith(f"tvframe {name}".strip()) for line in examples)
    if not name:
        assert all(c in out for c in COMMANDS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "NASDAQ:AAPL", "1d", "--sim"], "give N"),
        (["history", "1d", "5", "--sim"], "give one or more SYMBOLs"),
        (["history", "NASDAQ:AAPL", "1d", "5", "-o", "bars.txt"], "must end in .csv"),
        (["history", "NASDAQ:AAPL", "1d", "5", "--sim", "--url", "ws://x/y"], "not both"),
        (["history", "NASDAQ:AAPL", "1d", "5", "--timeout", "0"], "must be positive"),
        (["live", "BINANCE:BTCUSDT", "--sim"], "give one or more SYMBOLs"),
        (["search", "apple", "--limit", "0"], "must be positive"),
        (["quote"], "required"),
        (["sim", "--realtime", "--manual"], "not allowed with"),
        (["sim", "--port", "70000"], "not a TCP port"),
    ],
)
def test_bad_usage_is_argparse_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(argv, capsys)
    assert message in err
    assert err.startswith("usage: tvframe")


# --- history ------------------------------------------------------------------------------


def test_history_prints_the_frame(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["history", "NASDAQ:AAPL", "5m", "3", "--sim", "--no-progress"], capsys)

    with tv.sim.running():
        expected = pandas(tv.history("NASDAQ:AAPL", "5m", 3))
    assert (code, err) == (0, "")
    assert out == expected.to_string() + "\n"


@pytest.mark.parametrize(("suffix", "backend"), [("parquet", "pandas"), ("csv", "pandas"),
                                                 ("json", "polars")])  # fmt: skip
def test_history_many_symbols_with_options_written_losslessly(
    suffix: str, backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / f"bars.{suffix}"
    argv = ["history", "NASDAQ:AAPL", "NYSE:IBM", "1d", "--start", "2026-10-01", "--end",
            "2026-10-20", "--tz", "exchange", "--session", "extended", "--indicator", "RSI",
            "--indicator", "MACD", "--backend", backend, "--sim", "-o", str(target)]  # fmt: skip

    code, out, _ = run(argv, capsys)

    with tv.sim.running():
        expected = tv.history(
            ["NASDAQ:AAPL", "NYSE:IBM"], "1d", start="2026-10-01", end="2026-10-20",
            tz="exchange", session="extended", indicators=["RSI", "MACD"], backend=backend,
        )  # fmt: skip
    back = getattr(tv, f"read_{suffix}")(target)
    assert code == 0
    assert out == f"wrote {len(expected)} bars to {target}\n"
    assert back.equals(expected)
    assert {"rsi_14", "macd"} <= set(back.columns)
    assert back.tv.meta.tz == "America/New_York"


def test_history_never_overwrites_and_says_where_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bars.csv"
    target.write_text("mine")

    code, out, _ = run(["history", "NASDAQ:AAPL", "1d", "5", "--sim", "-o", str(target)], capsys)

    written = tmp_path / "bars-1.csv"
    assert code == 0
    assert out == f"wrote 5 bars to {written} ({target} exists, so it was kept)\n"
    assert target.read_text() == "mine"
    assert len(tv.read_csv(written)) == 5


def test_a_short_history_warns_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with tv.sim.running(max_depth=50):
        code, out, err = run(["history", "NASDAQ:AAPL", "1d", "60", "--no-progress"], capsys)

    assert code == 0
    assert len(out.splitlines()) == 2 + 20 + 1  # pandas' two header lines, 20 rows and "..."
    assert err.startswith("tvframe: warning: NASDAQ:AAPL 1d: asked for 60 bars, the server has 50")
    assert err.count("\n") == 1


def test_ctrl_c_during_a_download_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("tvframe.facade.history", interrupted)

    assert run(["history", "NASDAQ:AAPL", "1d", "5"], capsys) == (130, "", "")


# --- errors: one line, the right exit code, no traceback --------------------------------

# name -> (arguments, exit code, what stderr names); "{url}" is a port nobody listens on.
FAILURES: dict[str, tuple[list[str], int, str]] = {
    "unknown symbol": (["history", "NASDAQ:NOSUCH", "1d", "5", "--sim"], 2, "'NASDAQ:NOSUCH'"),
    "malformed symbol": (["quote", "AAPL", "--sim"], 2, "must be EXCHANGE:SYMBOL"),
    "bad interval": (["history", "NASDAQ:AAPL", "7q", "5", "--sim"], 2, "invalid interval '7q'"),
    "live bad interval": (["live", "BINANCE:BTCUSDT", "1x", "--sim"], 2, "invalid interval '1x'"),
    "history unreachable": (["history", "NASDAQ:AAPL", "1d", "5", "--url", "{url}"], 2, "{host}"),
    "live unreachable": (["live", "NASDAQ:AAPL", "1m", "--url", "{url}"], 2, "{host}"),
    "quote unreachable": (["quote", "NASDAQ:AAPL", "--url", "{url}"], 2, "{host}"),
    "search unreachable": (["search", "apple", "--url", "{url}"], 2, "{host}"),
    "unwritable output": (["history", "NASDAQ:AAPL", "1d", "5", "--sim", "-o", "{unwritable}"],
                          1, "cannot write {unwritable}: Not a directory"),
}  # fmt: skip
# Also run as subprocesses, where a traceback at interpreter exit would show too.
IN_SUBPROCESSES = ["unknown symbol", "live unreachable", "unwritable output"]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The ``{url}``, ``{host}`` and ``{unwritable}`` of :data:`FAILURES`."""
    blocker = tmp_path_factory.mktemp("cli") / "file"
    blocker.write_text("")
    with socket.socket() as sock:  # bound, never listening: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{sock.getsockname()[1]}"
        # Under a file: no user, root included, can write there.
        yield {"url": f"ws://{host}/socket.io/websocket", "host": host,
               "unwritable": str(blocker / "sub" / "bars.csv")}  # fmt: skip


def failing(name: str, places: dict[str, str]) -> tuple[list[str], int, str]:
    """The arguments (with a short timeout), exit code and message of failure ``name``."""
    args, code, message = FAILURES[name]
    return [a.format(**places) for a in args] + ["--timeout", "2"], code, message.format(**places)


@pytest.fixture(scope="module")
def subprocess_failures(places: dict[str, str]) -> dict[str, tuple[int, str, str]]:
    """The commands of :data:`IN_SUBPROCESSES`, run at once: name -> (code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "TVFRAME_URL"}
    command = [sys.executable, "-m", "tvframe.cli"]
    running = {
        name: subprocess.Popen([*command, *failing(name, places)[0]], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
        for name in IN_SUBPROCESSES
    }  # fmt: skip
    done = {name: process.communicate(timeout=60) for name, process in running.items()}
    return {name: (running[name].returncode, *done[name]) for name in IN_SUBPROCESSES}


def assert_one_line_error(result: tuple[int, str, str], code: int, message: str) -> None:
    assert (result[0], result[1]) == (code, "")
    assert result[2].startswith("tvframe: error: ")
    assert message in result[2]
    assert result[2].count("\n") == 1  # one line: no traceback


@pytest.mark.parametrize("name", list(FAILURES))
def test_errors_are_one_line_with_the_right_exit_code(
    name: str, places: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv, code, message = failing(name, places)

    assert_one_line_error(run(argv, capsys), code, message)


@pytest.mark.parametrize("name", IN_SUBPROCESSES)
def test_errors_are_one_line_in_a_subprocess(
    name: str, places: dict[str, str], subprocess_failures: dict[str, tuple[int, str, str]]
) -> None:
    _, code, message = failing(name, places)

    assert_one_line_error(subprocess_failures[name], code, message)


# --- quote and search -------------------------------------------------------------------


def test_quote_table(capsys: pytest.CaptureFixture[str]) -> None:
    symbols = ["NASDAQ:AAPL", "FX:EURUSD"]
    code, out, _ = run(["quote", *symbols, "--sim"], capsys)

    with tv.sim.running():
        expected = pandas(tv.quote(symbols, ["last", "change", "change_pct", "bid", "ask", "time"]))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["symbol", "last", "change", "change", "%", "bid", "ask", "time",
                                "(UTC)"]  # fmt: skip
    times = expected["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    for line, row, time_text in zip(lines[2:], expected.itertuples(), times, strict=True):
        cells = line.split()
        places = 5 if row.symbol == "FX:EURUSD" else 2  # the symbols' pricescale
        assert cells[:6] == [row.symbol, f"{row.last:.{places}f}", f"{row.change:+.{places}f}",
                             f"{row.change_pct:+.2f}", f"{row.bid:.{places}f}",
                             f"{row.ask:.{places}f}"]  # fmt: skip
        assert " ".join(cells[6:]) == time_text


def test_search_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["search", "btc", "--type", "crypto", "--exchange", "BINANCE", "--limit", "2", "--sim"]
    code, out, _ = run(argv, capsys)

    with tv.sim.running():
        expected = pandas(tv.search("btc", "BINANCE", "crypto", limit=2))
    rows = [line.split()[0] for line in out.splitlines()[2:]]
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["symbol", "description", "type"]
    assert rows == expected["symbol"].tolist()
    assert len(rows) == 2


def test_search_without_results_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["search", "zzzqqq", "--sim"], capsys) == (0, "no symbol matches 'zzzqqq'\n", "")


# --- live tables --------------------------------------------------------------------------


class Draws:
    """Records what live tables draw, so a test can wait for a draw and interrupt."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tables: list[list[str]] = []
        self._changed = threading.Condition()
        original = Screen.draw

        def draw(screen: Screen, lines: list[str]) -> None:
            original(screen, lines)
            with self._changed:
                self.tables.append(list(lines))
                self._changed.notify_all()

        monkeypatch.setattr(Screen, "draw", draw)

    def wait(self, done: Callable[[list[str]], bool], timeout: float = 10) -> list[str]:
        with self._changed:
            found = self._changed.wait_for(lambda: any(done(t) for t in self.tables), timeout)
        assert found, f"no such table was drawn: {self.tables[-1:]}"
        return next(t for t in self.tables if done(t))


def run_until_ctrl_c(
    argv: list[str], capsys: pytest.CaptureFixture[str], steps: Callable[[], None]
) -> tuple[int, str, str]:
    """Run ``argv`` in-process while a thread runs ``steps``, then presses Ctrl-C (SIGINT to
    the main thread, where ``main`` runs) unless ``main`` has already returned."""
    lock = threading.Lock()
    running = True

    def worker() -> None:
        try:
            steps()
        finally:
            with lock:
                if running and MAIN.ident is not None:
                    signal.pthread_kill(MAIN.ident, signal.SIGINT)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        code = cli.main(argv)
        with lock:
            running = False
    finally:
        thread.join()
    out, err = capsys.readouterr()
    return code, out, err


def test_live_appends_a_table_per_change_off_a_terminal_and_ctrl_c_exits_0(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    draws = Draws(monkeypatch)
    symbols = ["BINANCE:BTCUSDT", "NASDAQ:AAPL"]

    def at(time: str) -> Callable[[list[str]], bool]:
        # Both rows at ``time``, with their RSI (it may come just after its bar).
        return lambda t: len(t) == 4 and all(time in r and len(r.split()) == 11 for r in t[2:])

    def steps() -> None:
        draws.wait(at("15:00:00"))
        sim.advance(60)  # the 15:00 bars close; the 15:01 bars form
        draws.wait(at("15:01:00"))

    argv = ["live", *symbols, "1m", "--bars", "5", "--indicator", "RSI"]
    code, out, err = run_until_ctrl_c(argv, capsys, steps)

    # The live series and this one start at the same bar, so their RSI values agree.
    history = pandas(tv.history(symbols, "1m", 6, indicators=["RSI"]))
    table = draws.wait(at("15:01:00"))
    assert (code, err) == (0, "")
    assert out.startswith("\n".join(draws.tables[0]) + "\n\n")  # appended, no ANSI codes
    assert "\x1b" not in out
    assert table == bars_lines(history)
    for symbol, row in zip(symbols, table[2:], strict=True):
        closes = history["close"][history.index.get_level_values("symbol") == symbol].to_numpy()
        assert row.split()[:5] == [symbol, "2026-11-02", "15:01:00", f"{closes[-1]:.2f}",
                                   f"{closes[-1] - closes[-2]:+.2f}"]  # fmt: skip


def test_quote_watch_redraws_until_ctrl_c_exits_0(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    draws = Draws(monkeypatch)
    fields = ["last", "change", "change_pct", "bid", "ask", "time", "pricescale"]
    first: list[str] = []
    later: list[str] = []

    def steps() -> None:
        first.extend(draws.wait(lambda t: len(t) == 3))
        sim.advance(30)
        later.extend(quote_lines(pandas(tv.quote("BINANCE:BTCUSDT", fields))))
        draws.wait(lambda t: t == later)

    code, _, err = run_until_ctrl_c(["quote", "BINANCE:BTCUSDT", "--watch"], capsys, steps)

    assert (code, err) == (0, "")
    assert first == draws.tables[0] != later
    assert draws.tables[-1] == later


@contextlib.contextmanager
def in_terminal(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``python -m tvframe.cli args`` on a 40x160 pseudo-terminal; yields it and the fd to read."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "TVFRAME_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tvframe.cli", *args],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    try:
        yield process, leader
    finally:
        process.kill()
        process.wait()
        os.close(leader)


def test_live_under_a_terminal_redraws_in_place_and_ctrl_c_exits_cleanly() -> None:
    with in_terminal("live", "BINANCE:BTCUSDT", "1m", "--sim") as (process, terminal):
        seen = _read_until(terminal, lambda text: len(REDRAW.findall(text)) >= 2, timeout=15)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=10)
        seen += _read_until(terminal, lambda text: False, timeout=1)

    lines = ANSI.sub("", seen.decode(errors="replace")).splitlines()
    assert code == 0
    assert len(REDRAW.findall(seen)) >= 2
    assert sum(line.startswith("BINANCE:BTCUSDT  2026-11-02 15:00:00") for line in lines) >= 3
    # Tables only: no traceback, no "Task was destroyed", no log of a lost connection.
    noise = [line for line in lines if line and not TABLE_LINE.match(line)]
    assert noise == []


class Terminal(io.StringIO):
    """Text written to what says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("flag", [[], ["--no-progress"]])
def test_history_shows_a_progress_bar_on_a_terminal_unless_told_not_to(
    flag: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    code, out, _ = run(["history", "NASDAQ:AAPL", "NYSE:IBM", "1d", "3", "--sim", *flag], capsys)

    assert code == 0
    assert "NYSE:IBM" in out
    if flag:
        assert terminal.getvalue() == ""
    else:
        assert re.search(r"history 1d: 100%.*\| 2/2 ", terminal.getvalue())


def _read_until(fd: int, done: Callable[[bytes], bool], timeout: float) -> bytes:
    """Read a pseudo-terminal until ``done(everything read)``, EOF or ``timeout``."""
    seen = b""
    deadline = time.monotonic() + timeout
    while not done(seen) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed (Linux says EIO)
            break
        if not chunk:
            break
        seen += chunk
    return seen


# --- sim and demo -------------------------------------------------------------------------


def test_sim_serves_until_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tvframe.cli", "sim", "--port", "0", "--manual"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = re.search(r"ws://127\.0\.0\.1:\d+/socket\.io/websocket", first)
        assert url is not None, first
        code, out, _ = run(["history", "NASDAQ:AAPL", "1d", "3", "--url", url.group()], capsys)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    finally:
        process.kill()

    with tv.sim.running():
        expected = pandas(tv.history("NASDAQ:AAPL", "1d", 3))
    assert (code, out) == (0, expected.to_string() + "\n")
    assert process.returncode == 0
    assert err == ""


def test_demo_writes_its_files_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "tour"

    code, out, err = run(["demo", "--out", str(out_dir)], capsys)

    parquet, png = out_dir / "aapl_1d.parquet", out_dir / "aapl_1d.png"
    with tv.sim.running():
        expected = pandas(tv.history("NASDAQ:AAPL", "1d", 120))
    assert (code, err) == (0, "")
    assert tv.read_parquet(parquet, "pandas").equals(expected)
    assert png.read_bytes().startswith(b"\x89PNG")
    assert str(parquet) in out and str(png) in out
    assert all(s in out for s in ("NASDAQ:AAPL", "BINANCE:BTCUSDT", "FX:EURUSD"))


# --- terminal rendering -------------------------------------------------------------------


def test_table_aligns_numbers_right_and_text_left() -> None:
    lines = table(["name", "value"], [["a", "1.5"], ["long name", "-10"], ["b", ""]])

    assert lines == ["name       value", "---------  -----", "a            1.5",
                     "long name    -10", "b"]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "decimals", "signed", "text"),
    [(1.5, None, False, "1.5"), (1e6, None, False, "1000000"), (2 / 3, None, False, "0.666667"),
     (0.1, 3, True, "+0.100"), (-0.1, 3, True, "-0.100"), (float("nan"), 2, False, ""),
     (None, 2, False, ""), (pd.NA, 2, False, ""), (float("inf"), None, False, "inf")],
)  # fmt: skip
def test_number(value: object, decimals: int | None, signed: bool, text: str) -> None:
    assert number(value, decimals, signed=signed) == text


def test_screen_redraws_over_the_previous_block_and_cuts_long_lines() -> None:
    out = io.StringIO()
    screen = Screen(out, redraw=True, width=5)

    screen.draw(["abcdefgh", "x"])
    screen.draw(["y"])
    screen.draw(["z", "w"])

    assert out.getvalue() == "abcd\nx\n\x1b[2A\r\x1b[Jy\n\x1b[1A\r\x1b[Jz\nw\n"
