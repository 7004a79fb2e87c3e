"""The peers, each installed with pip into its own venv under ``bench/.venvs/<name>``.

Peers are never dependencies of tvframe: they live only in these venvs (gitignored), pinned
to the versions the recorded results were measured with. A venv is rebuilt when its pins
change. ``python bench/peer_envs.py`` installs them all ahead of a run.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from benchlib import BENCH, PEERS_DIR

VENVS = BENCH / ".venvs"


@dataclass(frozen=True)
class Peer:
    """A peer client and how to run it.

    Attributes:
        name: Short name used in tables and as the venv's folder.
        requirements: What pip installs into its venv.
        driver: The driver script in ``bench/peers/``.
        note: Anything installed or patched beyond the package, for the README and tables.
    """

    name: str
    requirements: tuple[str, ...]
    driver: str
    note: str = ""

    @property
    def venv(self) -> Path:
        """The venv's folder."""
        return VENVS / self.name

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.venv / "bin" / "python"

    @property
    def driver_path(self) -> Path:
        """The driver script."""
        return PEERS_DIR / self.driver


PEERS: tuple[Peer, ...] = (
    Peer("tvkit", ("tvkit==0.18.0",), "tvkit_driver.py"),
    Peer(
        "tvdatafeed",
        # 2.2.1 imports websocket-client without declaring it: installed alongside.
        ("tvdatafeed-enhanced==2.2.1", "websocket-client==1.9.2"),
        "tvdatafeed_driver.py",
        note="+ websocket-client (undeclared dependency)",
    ),
    Peer("scraper", ("tradingview-scraper==0.4.21",), "scraper_driver.py"),
)


def ensure(peer: Peer, *, log: Path | None = None) -> None:
    """Create ``peer``'s venv and install its pins unless it already has them.

    Raises:
        RuntimeError: pip failed; the message carries its last lines.
    """
    stamp = peer.venv / "requirements.txt"
    wanted = "\n".join(peer.requirements) + "\n"
    if peer.python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    venv.EnvBuilder(clear=True, with_pip=True).create(peer.venv)
    done = subprocess.run(
        [
            str(peer.python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *peer.requirements,
        ],
        capture_output=True,
        text=True,
    )
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"pip install {' '.join(peer.requirements)} failed: {tail}")
    stamp.write_text(wanted)


def main() -> None:
    for peer in PEERS:
        print(f"{peer.name}: installing {' '.join(peer.requirements)} into {peer.venv}")
        try:
            ensure(peer)
        except RuntimeError as exc:
            print(f"{peer.name}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    main()
