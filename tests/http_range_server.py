"""A static HTTP server with range requests, for tests of GDAL's /vsicurl/.

`python -m tests.http_range_server FOLDER` serves FOLDER on 127.0.0.1 and prints its port.
Paths that stand in for a failing server: ``/status/404/x.tif`` answers that status,
``/norange/x.tif`` answers 200 with the whole file whatever the Range, ``/hang/x.tif``
accepts the request and never answers (each one counted: a line in
FOLDER/.hang-requests), ``/cut/x.tif`` drops the connection half-way through each range it
sends.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import time


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP range requests (GDAL's /vsicurl/ reads byte ranges)."""

    def log_message(self, *args):
        pass

    def send_head(self):
        if status := re.match(r"/status/(\d{3})/", self.path):
            self.send_error(int(status[1]))
            return None
        if self.path.startswith("/hang/"):
            with open(os.path.join(self.directory, ".hang-requests"), "a") as log:
                log.write(self.path + "\n")
            time.sleep(600)
            return None
        if self.path.startswith("/norange/"):
            self.path = self.path[len("/norange"):]
            return super().send_head()
        cut = self.path.startswith("/cut/")
        if cut:
            self.path = self.path[len("/cut"):]
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not match or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(match[1])
        end = min(int(match[2]) if match[2] else size - 1, size - 1)
        handle = open(path, "rb")  # noqa: SIM115 (closed by copyfile's caller)
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if cut:  # the length promised, half of it sent, the connection closed
            self.close_connection = True
            return _Slice(handle, (end - start + 1) // 2)
        return _Slice(handle, end - start + 1)


class _Slice:
    """The part of an open file a range request asked for."""

    def __init__(self, handle, length):
        self.handle, self.left = handle, length

    def read(self, size=-1):
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data

    def close(self):
        self.handle.close()


def main() -> None:
    handler = functools.partial(_RangeHandler, directory=sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
