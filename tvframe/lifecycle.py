"""``async with`` support shared by every resource that has an async ``close()``."""

from __future__ import annotations

from types import TracebackType

__all__ = ["AsyncClosing"]


class AsyncClosing:
    """Mixin: leaving ``async with`` awaits ``self.close()``; ``__aenter__`` stays the class's own.

    Example:
        >>> import asyncio
        >>> class Res(AsyncClosing):
        ...     closed = False
        ...     async def __aenter__(self) -> "Res":
        ...         return self
        ...     async def close(self) -> None:
        ...         self.closed = True
        >>> async def use() -> bool:
        ...     async with Res() as r:
        ...         pass
        ...     return r.closed
        >>> asyncio.run(use())
        True
    """

    async def close(self) -> None:
        """Release the resource; subclasses override."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
