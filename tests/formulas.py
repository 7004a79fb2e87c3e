"""TradingView's published indicator formulas, written plainly for tests to check against.

Deliberately independent of tvframe and of the simulator: plain loops over lists, straight
from the Pine definitions (``ta.rma``, ``ta.rsi``, ``ta.sma``); NaN where Pine has na.
"""

from __future__ import annotations

import itertools
import math


def rma(values: list[float], n: int) -> list[float]:
    out, prev = [], math.nan
    for i, x in enumerate(values):
        if i < n - 1 or math.isnan(x):
            out.append(math.nan)
        elif math.isnan(prev):
            prev = sum(values[i - n + 1 : i + 1]) / n
            out.append(prev)
        else:
            prev = (prev * (n - 1) + x) / n
            out.append(prev)
    return out


def rsi(close: list[float], n: int) -> list[float]:
    ups = [math.nan] + [max(b - a, 0.0) for a, b in itertools.pairwise(close)]
    downs = [math.nan] + [max(a - b, 0.0) for a, b in itertools.pairwise(close)]
    # The first change is na: rma starts on the n-th defined change.
    up, down = rma(ups[1:], n), rma(downs[1:], n)
    out = [math.nan]
    for u, d in zip(up, down, strict=True):
        if math.isnan(u) or math.isnan(d):
            out.append(math.nan)
        elif d == 0:
            out.append(100.0)
        elif u == 0:
            out.append(0.0)
        else:
            out.append(100 - 100 / (1 + u / d))
    return out


def sma(values: list[float], n: int) -> list[float]:
    return [
        math.nan if i < n - 1 else sum(values[i - n + 1 : i + 1]) / n for i in range(len(values))
    ]
