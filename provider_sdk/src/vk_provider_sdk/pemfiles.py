"""PEM files read as one set and re-read when they change: how both ends of the provider protocol rotate their
TLS certificates without a restart.

Certificates are mounted from Secrets (or written by cert-manager, an agent, a script) and replaced while the
processes run. Whoever holds a :class:`PemFiles` asks :meth:`PemFiles.changed` before it makes a new connection
(the provider's server on each TLS handshake, the controller at most once a second before a call); it answers with
the new contents once any file differs from what was last used, and only when every file is a complete PEM
document, so a half-written file is never used: the old set stays in force until the next look.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Sequence
from pathlib import Path

Contents = tuple[bytes | None, ...]


def _complete(data: bytes) -> bool:
    return b"-----BEGIN " in data and data.rstrip().endswith(b"-----")


class PemFiles:
    """A fixed list of optional paths, read together; thread-safe (gRPC calls the server's fetcher on its own
    threads)."""

    def __init__(self, paths: Sequence[Path | None]) -> None:
        self.paths = tuple(paths)
        self._lock = threading.Lock()
        self.current: Contents = self._read()
        for path, data in zip(self.paths, self.current, strict=True):
            if data is not None and not _complete(data):
                raise ValueError(f"{path} is not a PEM file")

    def _read(self) -> Contents:
        return tuple(path.read_bytes() if path is not None else None for path in self.paths)

    def changed(self) -> Contents | None:
        """The new contents if any file changed since the last answer and all are complete, else None.

        Raises OSError when a file cannot be read (the caller keeps what it has).
        """
        contents = self._read()
        with self._lock:
            if contents == self.current:
                return None
            if not all(data is None or _complete(data) for data in contents):
                return None
            self.current = contents
            return contents


def certificate_fingerprint(pem: bytes) -> str:
    """The SHA-256 fingerprint of a PEM certificate's DER form, lower-case hex (as ``openssl x509 -fingerprint``
    prints it, without the colons)."""
    der = ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
    return hashlib.sha256(der).hexdigest()


__all__ = ["Contents", "PemFiles", "certificate_fingerprint"]
