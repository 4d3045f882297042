"""A small HTTP/1.1 load generator: keep-alive connections, one request in flight on each.

The same client drives the platform and the floors, so its own cost cancels out in the
ratios. Raw sockets with TCP_NODELAY; responses are read by Content-Length.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from dataclasses import dataclass


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
                 "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._fill()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, payload

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


@dataclass
class Latencies:
    samples_ms: list[float]
    elapsed_s: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def rps(self) -> float:
        return len(self.samples_ms) / self.elapsed_s


def run(host: str, port: int, path: str, body: bytes, *, requests: int, clients: int = 1,
        headers: dict[str, str] | None = None, warmup: int = 50, expect: int = 200) -> Latencies:
    """``requests`` in all, spread over ``clients`` concurrent keep-alive connections, each
    first sending ``warmup`` requests of its own; any status but ``expect`` fails the run."""
    samples: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        try:
            measure(count)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's thread
            failures.append(exc)

    def measure(count: int) -> None:
        connection = Connection(host, port)
        for _ in range(warmup):
            connection.request("POST", path, body, headers)
        local = []
        for _ in range(count):
            started = time.perf_counter()
            status, _ = connection.request("POST", path, body, headers)
            local.append((time.perf_counter() - started) * 1000)
            if status != expect:
                raise RuntimeError(f"{path} answered {status}: {_[:300]!r}")
        connection.close()
        with lock:
            samples.extend(local)

    shares = [requests // clients + (number < requests % clients) for number in range(clients)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return Latencies(samples, time.perf_counter() - started)
