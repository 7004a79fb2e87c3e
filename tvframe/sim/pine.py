"""pine-facade's ``translate`` answer for the simulator's Pine scripts (studies contract). No I/O.

``GET /pine-facade/translate/<url-encoded pineId>/<version or "last">`` answers
``{"success": true, "result": {"metaInfo": …, "ilTemplate": "bmI9Ks46_…"}}`` for the ten
``STD;…`` ids of :mod:`tvframe.sim.studies`, whatever the version asked; any other script gets
HTTP 404 ``{"success": false, "reason": "script not found"}``. The IL text is opaque: the
simulator only checks its prefix when the script is used in ``create_study``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from tvframe.sim.search import HttpAnswer
from tvframe.sim.studies import IL_PREFIX, StudyDef, pine_study

__all__ = ["PINE_VERSION", "TRANSLATE_PATH", "answer", "translate"]

#: Path prefix of the translate endpoint.
TRANSLATE_PATH = "/pine-facade/translate/"
#: The version every simulated script is at.
PINE_VERSION = "1.0"

_NOT_FOUND = HttpAnswer(
    404, orjson.dumps({"success": False, "reason": "script not found"}).decode()
)


def _il_template(study: StudyDef) -> str:
    """Stable opaque text shaped like TradingView's (``bmI9Ks46_<salt>==_<body>``)."""
    digest = hashlib.sha256(study.pine_id.encode()).digest()
    salt = base64.b64encode(digest[:16]).decode()
    body = base64.b64encode(hashlib.sha512(digest).digest()).decode()
    return f"{IL_PREFIX}{salt}_{body}"


def _meta_info(study: StudyDef) -> dict[str, Any]:
    plots = [f"plot_{k}" for k in range(len(study.plots))]
    return {
        "inputs": [
            {"id": f"in_{k}", "name": spec.title, "defval": spec.default, "type": spec.type}
            for k, spec in enumerate(study.inputs)
        ],
        "plots": [{"id": plot, "type": "line"} for plot in plots],
        "styles": {plot: {"title": title} for plot, title in zip(plots, study.plots, strict=True)},
        "pine": {"version": PINE_VERSION},
        "scriptIdPart": study.pine_id,
        "description": study.description,
        "shortDescription": study.short_description,
    }


def translate(pine_id: str) -> dict[str, Any] | None:
    """The translate ``result`` (``metaInfo`` and ``ilTemplate``), ``None`` for an unknown id.

    Example:
        >>> meta = translate("STD;RSI")["metaInfo"]
        >>> [(i["id"], i["name"], i["defval"]) for i in meta["inputs"]]
        [('in_0', 'Length', 14), ('in_1', 'Source', 'close')]
        >>> meta["styles"], translate("STD;Nope")
        ({'plot_0': {'title': 'RSI'}}, None)
    """
    study = pine_study(pine_id)
    if study is None:
        return None
    return {"metaInfo": _meta_info(study), "ilTemplate": _il_template(study)}


def answer(target: str) -> HttpAnswer | None:
    """Answer ``GET target`` (path and query string), or ``None`` if it is not a translate path.

    Example:
        >>> answer("/pine-facade/translate/STD%3BMACD/last").status
        200
        >>> answer("/pine-facade/translate/STD%3BNope/1").status, answer("/other") is None
        (404, True)
    """
    path = urlsplit(target).path
    if not path.startswith(TRANSLATE_PATH):
        return None
    parts = path[len(TRANSLATE_PATH) :].split("/")
    result = translate(unquote(parts[0])) if len(parts) == 2 and parts[1] else None
    if result is None:
        return _NOT_FOUND
    return HttpAnswer(200, orjson.dumps({"success": True, "result": result}).decode())
