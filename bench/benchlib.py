"""What the benchmark scripts share: paths, the simulator process, line-JSON child processes.

Every child speaks one JSON object per line on stdout (and reads commands the same way on
stdin), so the harness needs no other IPC. Children run with this interpreter unless told.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CAPTURES = REPO.parent / "shared" / "captures"
RESULTS = BENCH / "results"
PEERS_DIR = BENCH / "peers"

_P = TypeVar("_P", bound="LineProcess")

#: The generated universe of the simulator: even numbers trade 24x7 (``sim/catalogue.py``).
UNIVERSE = 200


def universe(count: int, *, around_the_clock: bool = False) -> list[str]:
    """``count`` simulator symbols; only 24x7 ones (every minute has a bar) when asked.

    Example:
        >>> universe(2), universe(2, around_the_clock=True)
        (['SIMX:T000', 'SIMX:T001'], ['SIMX:T000', 'SIMX:T002'])
    """
    step = 2 if around_the_clock else 1
    if count * step > UNIVERSE:
        raise ValueError(f"the simulator has {UNIVERSE // step} such symbols, not {count}")
    return [f"SIMX:T{i:03d}" for i in range(0, count * step, step)]


def child_env() -> dict[str, str]:
    """The environment for children: this repo importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("TVFRAME_URL", None)
    return env


class LineProcess:
    """A child process that answers JSON lines; its stderr goes to ``stderr_path``.

    Example:
        >>> with LineProcess([sys.executable, "-c", "print('{}')"]) as child:
        ...     child.read()
        {}
    """

    def __init__(
        self, argv: list[str], *, cwd: Path | None = None, stderr_path: Path | None = None
    ) -> None:
        self._stderr = open(stderr_path or os.devnull, "w")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
            env=child_env(),
            text=True,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def read(self) -> dict[str, Any]:
        """The next JSON line the child prints.

        Raises:
            RuntimeError: the child ended first.
        """
        assert self.process.stdout is not None
        while line := self.process.stdout.readline():
            if line.startswith("{"):  # a wrapper (py-spy) may print lines of its own
                reply: dict[str, Any] = json.loads(line)
                return reply
        code = self.process.wait()
        raise RuntimeError(f"{self.process.args!r} exited ({code}) without an answer")

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one command line, return the answer line."""
        self.send(request)
        return self.read()

    def send(self, request: dict[str, Any]) -> None:
        """Send one command line without waiting."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def close(self, timeout: float = 10.0) -> None:
        """Close the child's stdin (its cue to end), wait, kill it if it does not."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SimProcess(LineProcess):
    """``bench/simserver.py`` in its own process: the URL, its CPU time, prepared pushes."""

    def __init__(self, *, stderr_path: Path | None = None) -> None:
        super().__init__([sys.executable, str(BENCH / "simserver.py")], stderr_path=stderr_path)
        self.url: str = self.read()["url"]

    def cpu(self) -> float:
        """CPU seconds the simulator process has used so far."""
        return float(self.ask({"cmd": "cpu"})["cpu"])


def run_json(argv: list[str], *, cwd: Path | None = None, timeout: float = 1800) -> dict[str, Any]:
    """Run a child to its end and return the last JSON line it printed.

    Raises:
        RuntimeError: it failed or printed no JSON; the message carries its stderr's tail.
    """
    done = subprocess.run(
        argv, capture_output=True, text=True, cwd=cwd, env=child_env(), timeout=timeout
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"exit {done.returncode}: {' | '.join(tail) or 'no output'}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
