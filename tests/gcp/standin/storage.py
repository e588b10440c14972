"""A Cloud Storage stand-in whose objects are the files of a host directory.

``<root>/<bucket>/<object name>`` is the object: the JSON API lists, reads, writes and
deletes those files, so a directory bind-mounted into a container is a live view of a
bucket prefix, as a gcsfuse mount is on real Batch (without its metadata cache): a
running task sees uploaded objects at once, and what it writes is an object as soon as
the file exists. The real ``google-cloud-storage`` client reaches it through
``STORAGE_EMULATOR_HOST``.

Served: bucket get/insert/patch (metadata such as lifecycle rules kept as given),
object insert (media and multipart uploads), get
(metadata, or ``alt=media`` whole or by byte range), list (prefix, delimiter-free, paging), delete. Other calls
answer 501 so that a client relying on them fails loudly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
# Bucket metadata (location, lifecycle rules), one JSON file per bucket.
_BUCKETS = ".standin-buckets"
# Uploads are written here first and renamed into place, so no listing sees half a file.
_STAGING = ".standin-staging"


class StorageStandin:
    """The HTTP server and its directory; ``start`` serves on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / _STAGING).mkdir(parents=True, exist_ok=True)
        (root / _BUCKETS).mkdir(parents=True, exist_ok=True)
        standin = self

        class Handler(_Handler):
            store = standin

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``, the value of ``STORAGE_EMULATOR_HOST``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> StorageStandin:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def bucket_dir(self, bucket: str) -> Path:
        """Where the objects of ``bucket`` live."""
        return self.root / bucket

    def create_bucket(self, bucket: str, metadata: dict[str, Any] | None = None) -> Path:
        """Create ``bucket`` (idempotent) with ``metadata``; return its directory."""
        folder = self.bucket_dir(bucket)
        folder.mkdir(parents=True, exist_ok=True)
        self.set_metadata(bucket, {**(metadata or {}), "name": bucket})
        return folder

    def metadata(self, bucket: str) -> dict[str, Any]:
        """The bucket's resource as the JSON API shows it."""
        path = self.root / _BUCKETS / f"{bucket}.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        return {**stored, "kind": "storage#bucket", "name": bucket, "id": bucket}

    def set_metadata(self, bucket: str, metadata: dict[str, Any]) -> None:
        """Store the bucket's resource fields."""
        (self.root / _BUCKETS / f"{bucket}.json").write_text(json.dumps(metadata))

    def remove_bucket(self, bucket: str) -> None:
        """Remove ``bucket``, its objects and its metadata."""
        import shutil

        shutil.rmtree(self.bucket_dir(bucket), ignore_errors=True)
        (self.root / _BUCKETS / f"{bucket}.json").unlink(missing_ok=True)

    def object_names(self, bucket: str) -> list[str]:
        """Every object of ``bucket``, sorted."""
        folder = self.bucket_dir(bucket)
        names = [
            path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()
        ]
        return sorted(names)


class _Handler(BaseHTTPRequestHandler):
    store: StorageStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, document: dict[str, Any]) -> None:
        self._send(status, json.dumps(document).encode(), {"Content-Type": "application/json"})

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"code": status, "message": message, "errors": []}})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _route(self) -> tuple[list[str], dict[str, list[str]]]:
        parts = urlsplit(self.path)
        return [unquote(p) for p in parts.path.split("/") if p != ""], parse_qs(parts.query)

    # -- objects as files -----------------------------------------------------------------

    def _object_path(self, bucket: str, name: str) -> Path | None:
        folder = self.store.bucket_dir(bucket)
        path = (folder / name).resolve()
        if not name or folder.resolve() not in path.parents:
            return None
        return path

    def _resource(self, bucket: str, name: str, path: Path) -> dict[str, Any]:
        data = path.read_bytes()
        stat = path.stat()
        generation = str(stat.st_mtime_ns)
        return {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/{generation}",
            "name": name,
            "bucket": bucket,
            "generation": generation,
            "metageneration": "1",
            "size": str(len(data)),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "contentType": "application/octet-stream",
            "updated": _rfc3339(stat.st_mtime),
            "timeCreated": _rfc3339(stat.st_mtime),
            "selfLink": f"{self.store.endpoint}/storage/v1/b/{bucket}/o/{quote(name, safe='')}",
            "mediaLink": f"{self.store.endpoint}/download/storage/v1/b/{bucket}/o/"
            f"{quote(name, safe='')}?generation={generation}&alt=media",
        }

    def _write(self, bucket: str, name: str, data: bytes) -> None:
        path = self._object_path(bucket, name)
        if path is None or not self.store.bucket_dir(bucket).is_dir():
            self._error(404 if path is not None else 400, f"cannot write {bucket}/{name}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, staged = tempfile.mkstemp(dir=self.store.root / _STAGING)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(staged, 0o644)
        os.replace(staged, path)
        self._json(200, self._resource(bucket, name, path))

    # -- verbs ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        parts, query = self._route()
        if parts[:3] == ["storage", "v1", "b"] and len(parts) == 4:
            folder = self.store.bucket_dir(parts[3])
            if not folder.is_dir():
                self._error(404, f"no bucket {parts[3]}")
                return
            self._json(200, self.store.metadata(parts[3]))
            return
        if parts[:3] == ["storage", "v1", "b"] and len(parts) == 5 and parts[4] == "o":
            self._list(parts[3], query)
            return
        download = parts[:1] == ["download"]
        core = parts[1:] if download else parts
        if core[:3] == ["storage", "v1", "b"] and len(core) == 6 and core[4] == "o":
            bucket, name = core[3], core[5]
            path = self._object_path(bucket, name)
            if path is None or not path.is_file():
                self._error(404, f"no object {bucket}/{name}")
                return
            if download or query.get("alt") == ["media"]:
                self._media(path)
                return
            self._json(200, self._resource(bucket, name, path))
            return
        self._error(501, f"the storage stand-in does not serve GET {self.path}")

    def _media(self, path: Path) -> None:
        data = path.read_bytes()
        wanted = _RANGE.match(self.headers.get("Range", ""))
        if wanted is not None:
            first = int(wanted.group(1))
            last = min(int(wanted.group(2) or len(data) - 1), len(data) - 1)
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {first}-{last}/{len(data)}",
            }
            self._send(206, data[first : last + 1], headers)
            return
        digest = base64.b64encode(hashlib.md5(data).digest()).decode()
        headers = {"Content-Type": "application/octet-stream", "X-Goog-Hash": f"md5={digest}"}
        self._send(200, data, headers)

    def _list(self, bucket: str, query: dict[str, list[str]]) -> None:
        folder = self.store.bucket_dir(bucket)
        if not folder.is_dir():
            self._error(404, f"no bucket {bucket}")
            return
        prefix = (query.get("prefix") or [""])[0]
        names = [n for n in self.store.object_names(bucket) if n.startswith(prefix)]
        start = (query.get("pageToken") or [""])[0]
        if start:
            names = [n for n in names if n > start]
        size = int((query.get("maxResults") or ["1000"])[0])
        page, rest = names[:size], names[size:]
        items = []
        for name in page:
            path = folder / name
            try:
                items.append(self._resource(bucket, name, path))
            except FileNotFoundError:
                continue  # deleted while listing
        document: dict[str, Any] = {"kind": "storage#objects", "items": items}
        if rest:
            document["nextPageToken"] = page[-1]
        self._json(200, document)

    def do_POST(self) -> None:
        parts, query = self._route()
        body = self._body()
        if parts == ["storage", "v1", "b"]:
            resource = json.loads(body or b"{}")
            name = resource.get("name", "")
            if not name or self.store.bucket_dir(name).is_dir():
                self._error(409 if name else 400, f"bucket {name!r} exists or is unnamed")
                return
            self.store.create_bucket(name, resource)
            self._json(200, self.store.metadata(name))
            return
        if parts[:4] == ["upload", "storage", "v1", "b"] and len(parts) == 6 and parts[5] == "o":
            bucket = parts[4]
            kind = (query.get("uploadType") or ["media"])[0]
            if kind == "media":
                self._write(bucket, (query.get("name") or [""])[0], body)
                return
            if kind == "multipart":
                metadata, data = _multipart(self.headers.get("Content-Type", ""), body)
                self._write(bucket, metadata.get("name") or (query.get("name") or [""])[0], data)
                return
        self._error(501, f"the storage stand-in does not serve POST {self.path}")

    def do_PATCH(self) -> None:
        parts, _query = self._route()
        body = self._body()
        if parts[:3] == ["storage", "v1", "b"] and len(parts) == 4:
            bucket = parts[3]
            if not self.store.bucket_dir(bucket).is_dir():
                self._error(404, f"no bucket {bucket}")
                return
            changed = {**self.store.metadata(bucket), **json.loads(body or b"{}")}
            self.store.set_metadata(bucket, changed)
            self._json(200, self.store.metadata(bucket))
            return
        self._error(501, f"the storage stand-in does not serve PATCH {self.path}")

    def do_DELETE(self) -> None:
        parts, _query = self._route()
        if parts[:3] == ["storage", "v1", "b"] and len(parts) == 6 and parts[4] == "o":
            path = self._object_path(parts[3], parts[5])
            if path is None or not path.is_file():
                self._error(404, f"no object {parts[3]}/{parts[5]}")
                return
            path.unlink()
            self._send(204)
            return
        self._error(501, f"the storage stand-in does not serve DELETE {self.path}")


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = list(message.iter_parts())  # type: ignore[attr-defined]
    metadata = json.loads(parts[0].get_payload(decode=True) or b"{}")
    return metadata, parts[1].get_payload(decode=True) or b""


def _rfc3339(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
