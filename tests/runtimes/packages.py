"""Code packages for agents that fetch their own code: zips made by the tests, served over HTTP on loopback."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile

#: The Unix mode of a regular file and of a symbolic link, as a zip's external attributes carry them.
FILE, SYMLINK = 0o100000, 0o120000


def zip_of(files: dict[str, str | bytes], *, modes: dict[str, int] | None = None) -> bytes:
    """A zip of ``files`` (name: content), deflated, each with its Unix mode (0o644 unless ``modes`` says)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix: the external attributes hold a st_mode
            info.external_attr = ((modes or {}).get(name, FILE | 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def lie_about_sizes(package: bytes, *, size: int) -> bytes:
    """``package`` with every entry claiming to inflate to ``size`` bytes, in its local and central headers."""
    data = bytearray(package)
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + at:start + at + 4] = size.to_bytes(4, "little")
            start += 4
    return bytes(data)


class PackageServer:
    """``http.server`` in a thread on a loopback port, serving what ``publish`` was given."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        files, requests = self.files, self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                requests.append(self.path)
                body = files.get(self.path)
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def publish(self, package: bytes, *, path: str = "/code.zip?signature=abc", max_bytes: int = 1 << 20,
                sha256: str | None = None) -> dict[str, object]:
        """Serve ``package`` at ``path``; the ``code`` of a specialize frame that names it."""
        self.files[path] = package
        return {"url": f"http://127.0.0.1:{self.port}{path}",
                "sha256": sha256 or hashlib.sha256(package).hexdigest(), "max_bytes": max_bytes}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
