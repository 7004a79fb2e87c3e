"""A griffe extension: tvframe's docstrings as the API reference should render them.

tvframe's docstrings are Google style with Sphinx cross-reference roles
(``:func:`history```, ``:class:`~tvframe.errors.ShortHistoryWarning```), which Markdown would
print as they are. Once the package is loaded, each role becomes an *optional* autorefs link:
a link where the target is documented, plain code where it is not, so a reference to an
undocumented helper never fails ``mkdocs build --strict``. The house style's ``Example:``
heading becomes griffe's ``Examples:`` section, whose ``>>>`` lines render as code (griffe
reads a singular ``Example:`` as a Markdown admonition), and reStructuredText's ``text::``
before a literal block loses its second colon. Constants and type aliases documented
the Sphinx way, with ``#:`` comment lines above the assignment, get those lines as their
docstring (griffe reads only string literals). Loaded by mkdocs.yml
(``extensions: - docs/griffe_roles.py:SphinxRoles``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import griffe

__all__ = ["SphinxRoles", "comment_docstring", "convert", "convert_roles"]

# :role:`target` or :role:`~target` (``~`` shows the last name only); the domain prefix
# ``:py:`` is accepted too.
_ROLE = re.compile(
    r":(?:py:)?(?P<role>func|meth|class|mod|data|attr|exc|obj|const):`(?P<target>[^`]+)`"
)
# A top-level ``Example:`` section heading of a (dedented) docstring.
_EXAMPLE = re.compile(r"^Example:[ \t]*$", re.MULTILINE)
# reStructuredText's ``text::`` before an indented literal block (Markdown: ``text:`` and the
# indented block is code already).
_LITERAL = re.compile(r"(?<=\S)::[ \t]*$", re.MULTILINE)


def _resolve(name: str, scope: griffe.Object) -> str | None:
    """The full path ``name`` refers to from ``scope`` (the documented object), if griffe knows."""
    if name.startswith("tvframe."):
        return name
    head, _, rest = name.partition(".")
    current: griffe.Object | None = scope
    while current is not None:
        try:
            found = current.resolve(head)
        except (griffe.NameResolutionError, KeyError, ValueError):
            current = current.parent
            continue
        return f"{found}.{rest}" if rest else found
    return None


def _link(match: re.Match[str], scope: griffe.Object) -> str:
    target = match["target"].strip()
    short = target.startswith("~")
    name = target.lstrip("~")
    shown = name.rsplit(".", 1)[-1] if short else name
    if match["role"] in ("func", "meth"):
        shown += "()"
    code = f"<code>{html.escape(shown)}</code>"
    path = _resolve(name, scope)
    if path is None:
        return code
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


def convert_roles(text: str, scope: griffe.Object) -> str:
    """``text`` with every Sphinx role replaced by an optional autorefs link.

    Example:
        >>> convert_roles("see :func:`nowhere`", griffe.Module("m"))
        'see <code>nowhere()</code>'
    """
    return _ROLE.sub(lambda match: _link(match, scope), text)


def convert(text: str, scope: griffe.Object) -> str:
    """A docstring as the reference renders it: roles linked, ``Example:`` as ``Examples:``,
    ``naming::`` as ``naming:``.

    Example:
        >>> convert("Named::\\n\\n    a.csv\\n\\nExample:\\n    >>> 1", griffe.Module("m"))
        'Named:\\n\\n    a.csv\\n\\nExamples:\\n    >>> 1'
    """
    return _LITERAL.sub(":", _EXAMPLE.sub("Examples:", convert_roles(text, scope)))


def _objects(root: griffe.Object) -> Iterator[griffe.Object]:
    """Every object defined under ``root`` (aliases to other modules are their own page's)."""
    yield root
    for member in root.members.values():
        if not isinstance(member, griffe.Alias):
            yield from _objects(member)


def comment_docstring(obj: griffe.Object) -> str | None:
    """The ``#:`` comment lines right above an attribute's assignment, as one text.

    Example:
        >>> with griffe.temporary_visited_module("#: The answer.\\nX = 42\\n") as module:
        ...     comment_docstring(module["X"])
        'The answer.'
    """
    if not obj.is_attribute or obj.lineno is None:
        return None
    lines = obj.module.lines
    found: list[str] = []
    index = min(obj.lineno, len(lines)) - 2  # the line above the assignment, 0-based
    while index >= 0 and lines[index].strip().startswith("#:"):
        found.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return "\n".join(found) or None


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring of a package once it is loaded (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Called by griffe when ``pkg`` and all its modules are loaded."""
        for obj in _objects(pkg):
            if obj.docstring is None and (comment := comment_docstring(obj)) is not None:
                obj.docstring = griffe.Docstring(comment, lineno=obj.lineno, parent=obj)
            if obj.docstring is not None:
                obj.docstring.value = convert(obj.docstring.value, obj)
