"""A transport that serves reads from one batch read made up front (docs/sweep-speed.md).

A drift sweep of one host reads facts, sysctls, the persisted sysctl files and a listing of
the sysctl directories. Read probe by probe, that is several dependent round trips and some
files read twice; :meth:`PrefetchedTransport.prefetch` issues every known read and listing at
once (the SSH transport pipelines them on one SFTP session), and later ``read_files`` /
``list_dir`` calls are answered from it, reading only what it does not hold. Each path is read
at most once. A failure of the batch is kept and raised to every call that needed it, as the
separate reads would each have failed.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Sequence

from probes.inventory import Host
from probes.transports.base import CommandResult, Reads, Transport


class PrefetchedTransport:
    """*inner* with its ``read_files``/``list_dir`` answered from :meth:`prefetch` where it can."""

    def __init__(self, inner: Transport):
        self.inner = inner
        self._files: dict[str, Any] = {}
        self._dirs: dict[str, Any] = {}
        self._unreadable: dict[str, str] = {}
        self._access: str | None = None
        self._file_error: BaseException | None = None
        self._dir_error: BaseException | None = None
        self._failed_files: set[str] = set()
        self._failed_dirs: set[str] = set()

    async def prefetch(self, host: Host, files: Sequence[str], dirs: Sequence[str] = (), *, timeout: float) -> None:
        """Read *files* and list *dirs* concurrently; keep the results (or the error) for later calls."""
        files, dirs = list(dict.fromkeys(files)), list(dict.fromkeys(dirs))
        jobs: list[Awaitable[Any]] = [
            self.inner.read_files(host, files, timeout=timeout) if files else _none(),
            self.inner.list_dir(host, dirs, timeout=timeout) if dirs else _none(),
        ]
        got_files, got_dirs = await asyncio.gather(*jobs, return_exceptions=True)
        for got in (got_files, got_dirs):
            if isinstance(got, BaseException) and not isinstance(got, Exception):
                raise got  # cancellation and the like are not results
        if isinstance(got_files, BaseException):
            self._file_error, self._failed_files = got_files, set(files)
        elif got_files is not None:
            self._keep(self._files, got_files)
        if isinstance(got_dirs, BaseException):
            self._dir_error, self._failed_dirs = got_dirs, set(dirs)
        elif got_dirs is not None:
            self._keep(self._dirs, got_dirs)

    def _keep(self, into: dict[str, Any], got: dict[str, Any]) -> None:
        into.update(got)
        self._unreadable.update(getattr(got, "unreadable", None) or {})
        self._access = getattr(got, "access", None) or self._access

    async def _serve(
        self,
        host: Host,
        paths: Sequence[str],
        timeout: float,
        held: dict[str, Any],
        failed: set[str],
        error: BaseException | None,
        listing: bool,
    ) -> Reads[Any]:
        paths = list(paths)
        if error is not None and any(p in failed for p in paths):
            raise error
        missing = [p for p in dict.fromkeys(paths) if p not in held]
        access = self._access
        if missing:
            got = await (self.inner.list_dir if listing else self.inner.read_files)(host, missing, timeout=timeout)
            self._keep(held, got)
            access = getattr(got, "access", None) or access
        return Reads(
            {p: held.get(p) for p in paths},
            access=access,
            unreadable={p: self._unreadable[p] for p in paths if p in self._unreadable},
        )

    async def read_files(self, host: Host, paths: Sequence[str], *, timeout: float) -> Reads[str]:
        if isinstance(paths, str):
            raise ValueError("paths must be a sequence of paths, not a string")
        return await self._serve(host, paths, timeout, self._files, self._failed_files, self._file_error, False)

    async def list_dir(self, host: Host, paths: Sequence[str], *, timeout: float) -> Reads[list[str]]:
        if isinstance(paths, str):
            raise ValueError("paths must be a sequence of paths, not a string")
        return await self._serve(host, paths, timeout, self._dirs, self._failed_dirs, self._dir_error, True)

    async def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        max_output: int | None = None,
    ) -> CommandResult:
        return await self.inner.run(host, argv, timeout=timeout, stdin=stdin, max_output=max_output)

    async def close(self) -> None:
        """Nothing of its own: the inner transport belongs to its owner."""

    def __getattr__(self, name: str) -> object:  # user(), pool statistics…: the real transport
        return getattr(self.inner, name)


async def _none() -> None:
    return None
