"""Live-stream readers that stop: one that stops reading is dropped after the write timeout and
resumes with Last-Event-ID without loss; streams abandoned by the hundred leave nothing behind —
no subscriber, and the server's memory back where it was.

Against real ``mcos serve`` processes, over raw sockets: a client library would read for us.
"""

from __future__ import annotations

import contextlib
import http.client
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.api.test_stream import PADDING, _socket_buffer_bytes, open_stream, opening
from tests.fixtures import raw_http
from tests.fixtures.server import Server, running_server

WAIT_SECONDS = 30.0


def _until(condition: Callable[[], bool], what: str) -> None:
    """Polls a state of another process (it has no event to await)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {WAIT_SECONDS:g} s"
        time.sleep(0.05)


def _subscribers(client: httpx.Client) -> int:
    count: int = client.get("/api/v1/health").json()["stream_subscribers"]
    return count


def _flood(client: httpx.Client, total_bytes: int, run: str) -> int:
    """Events of ``PADDING`` until ``total_bytes`` are posted, then a marker; its seq."""
    per_batch = 50  # 3 MB a batch, under the 4 MB body limit
    count = total_bytes // len(PADDING) + 1
    for first in range(0, count, per_batch):
        events = [
            {"id": f"{run}-{n}", "type": "runtime.flood", "data": {"n": n, "pad": PADDING}}
            for n in range(first, min(first + per_batch, count))
        ]
        response = client.post("/api/v1/batch", json={"events": events})
        assert response.status_code == 200, response.text
    marker = client.post("/api/v1/events", json={"type": "runtime.marker", "data": {}})
    assert marker.status_code == 201, marker.text
    seq: int = marker.json()["seq"]
    return seq


def _frame_ids(received: bytes) -> list[int]:
    """Ids of the complete event frames; a frame cut off by the drop is no event (as in SSE)."""
    ids = []
    for frame in received.split(b"\n\n")[:-1]:
        fields = dict(line.split(b": ", 1) for line in frame.split(b"\n") if b": " in line)
        if b"event" in fields:
            ids.append(int(fields[b"id"]))
    return ids


def test_a_reader_that_stops_reading_is_dropped_and_resumes_without_loss(
    tmp_path: Path, database_url: str
) -> None:
    settings = {"MCOS_WRITE_TIMEOUT_SECONDS": "1"}
    with running_server(tmp_path, database_url, settings) as server, server.client() as operator:
        headers = {"Authorization": f"Bearer {server.operator_token}"}
        with raw_http.connect(server.url, receive_buffer=4096) as stalled:
            stalled.sendall(raw_http.request_head("GET", "/api/v1/stream", headers))
            response = http.client.HTTPResponse(stalled)
            response.begin()
            assert response.status == 200
            start = int(response.read1().split(b"id: ", 1)[1].split(b"\n", 1)[0])
            assert _subscribers(operator) == 1

            # It reads nothing more: the buffers towards it fill, the server's writes block.
            marker = _flood(operator, 2 * _socket_buffer_bytes(), "flood")
            _until(lambda: _subscribers(operator) == 0, "dropped")

            # The client never closed: the server did. What reached it is read to the end.
            received = b""
            try:
                while chunk := response.read1():
                    received += chunk
            except (http.client.IncompleteRead, ConnectionResetError):
                pass  # cut off inside a chunk: the drop does not wait for a frame to end
        delivered = _frame_ids(received)
        assert delivered == list(range(start + 1, start + 1 + len(delivered)))
        last = delivered[-1] if delivered else start
        assert last < marker, "dropped before the flood was through"

        with open_stream(server, headers={"Last-Event-ID": str(last)}) as resumed:
            assert opening(resumed) == last
            rest = [f.id for f in resumed.until(lambda f: f.id == marker)]
    assert delivered + rest == list(range(start + 1, marker + 1)), "nothing lost, nothing twice"


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


ABANDONED = 300
MEMORY_TOLERANCE = 25 * 1024 * 1024
"""A leak check, not a measurement: one abandoned stream holds tens of kilobytes while open."""


def _abandon_streams(server: Server, operator: httpx.Client) -> None:
    """Open ``ABANDONED`` streams, send events down all of them, and close every socket unread."""
    headers = {"Authorization": f"Bearer {server.operator_token}"}
    with contextlib.ExitStack() as sockets:
        for _ in range(ABANDONED):
            sock = sockets.enter_context(raw_http.connect(server.url))
            sock.sendall(raw_http.request_head("GET", "/api/v1/stream", headers))
        _until(lambda: _subscribers(operator) == ABANDONED, f"{ABANDONED} subscribers")
        for n in range(5):
            posted = operator.post(
                "/api/v1/events", json={"type": "runtime.step", "data": {"n": n, "pad": PADDING}}
            )
            assert posted.status_code == 201, posted.text
    _until(lambda: _subscribers(operator) == 0, "every abandoned stream gone")


def test_abandoned_streams_leave_no_subscriber_and_no_memory_behind(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'mcos.db'}"
    with running_server(tmp_path, url) as server, server.client() as operator:
        assert server.process is not None
        # A first round puts what the allocator keeps for reuse into the baseline.
        _abandon_streams(server, operator)
        baseline = _rss_bytes(server.process.pid)
        for _ in range(3):
            _abandon_streams(server, operator)
        grown = _rss_bytes(server.process.pid) - baseline
    assert grown < MEMORY_TOLERANCE, f"{grown / 2**20:.1f} MiB more after 900 abandoned streams"
