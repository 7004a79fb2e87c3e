"""The protocol core is sans-I/O: importing it loads neither asyncio nor websockets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_PROBE = """
import json, sys
import tvframe.protocol
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("asyncio", "websockets")
                        or m.startswith("tvframe."))))
"""


def test_importing_the_protocol_loads_no_io_modules() -> None:
    # A fresh interpreter: in this one pytest-asyncio has long since imported asyncio.
    path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)

    assert "tvframe.protocol.connection" in loaded  # the probe really imported the core
    assert [m for m in loaded if not m.startswith("tvframe.")] == []
