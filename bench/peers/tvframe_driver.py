"""tvframe's history driver (run with this repo's interpreter): ``tv.history`` as documented.

One symbol: ``tv.history(symbol, "1m", n)``; many: one call with the list, which tvframe
fetches concurrently over one socket. The pooled socket stays open between calls, so only the
``cold`` call pays for connecting; the peers connect on every call by design.
"""

from __future__ import annotations

from driverlib import parse_args, run_driver

import tvframe as tv


def main() -> None:
    url: str = parse_args().url

    def one(symbol: str, bars: int) -> int:
        return len(tv.history(symbol, "1m", bars, url=url, progress=False))

    def many(symbols: list[str], bars: int) -> int:
        return len(tv.history(symbols, "1m", bars, url=url, progress=False))

    run_driver("tvframe", "tvframe", one, many)


if __name__ == "__main__":
    main()
