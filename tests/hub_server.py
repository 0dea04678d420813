"""A small Hub-protocol server on 127.0.0.1 for the publish/download tests.

It answers the routes huggingface_hub calls for create_repo / upload_folder / hf_hub_download /
model_info (every file is a "regular" git blob: no LFS, no Xet), keeps repos in memory, logs
every request, and can inject faults into file downloads:

    "500"       answer 500 Internal Server Error
    "drop"      close the connection without answering
    "truncate"  announce the full Content-Length, send half the bytes, close
    "wrong"     send bytes of the right length but with every byte flipped (a wrong sha256)

``server.faults["model.safetensors"] = ["500"]`` makes the next GET of that file fail once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> files

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


_REPO = r"(?P<repo>[^/]+/[^/]+)"
_ROUTES = [
    ("POST", re.compile(r"^/api/repos/create$"), "create_repo"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/preupload/(?P<rev>[^/]+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/commit/(?P<rev>[^/]+)$"), "commit"),
    ("POST", re.compile(rf"^/api/models/{_REPO}/branch/(?P<rev>[^/]+)$"), "create_branch"),
    ("GET", re.compile(rf"^/api/models/{_REPO}/revision/(?P<rev>[^/]+)$"), "model_info"),
    ("GET", re.compile(rf"^/api/models/{_REPO}$"), "model_info"),
    ("GET", re.compile(rf"^/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$"), "tree"),
    ("GET", re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
    ("HEAD", re.compile(rf"^/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
]


class HubServer:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.log: list[tuple[str, str]] = []
        self.faults: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def requests(self, method: str, suffix: str) -> int:
        return sum(1 for m, p in self.log if m == method and p.endswith(suffix))

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _dispatch(self, method: str):
                path = unquote(urlparse(self.path).path)
                with server.lock:
                    server.log.append((method, path))
                for route_method, pattern, name in _ROUTES:
                    match = pattern.match(path)
                    if route_method == method and match:
                        return getattr(self, f"do_{name}")(**match.groupdict())
                self._json(404, {"error": f"no route {method} {path}"})

            def do_GET(self):
                self._dispatch("GET")

            def do_HEAD(self):
                self._dispatch("HEAD")

            def do_POST(self):
                self._dispatch("POST")

            # ------------------------------------------------------------ helpers
            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def _json(self, status: int, payload, headers: dict[str, str] | None = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _repo_or_404(self, repo: str) -> Repo | None:
                if repo not in server.repos:
                    self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                    return None
                return server.repos[repo]

            def _files_at(self, repo: str, rev: str):
                found = self._repo_or_404(repo)
                if found is None:
                    return None, None
                commit = found.resolve(rev)
                if commit is None:
                    self._json(404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"})
                    return None, None
                return commit, found.commits[commit]

            # ------------------------------------------------------------ routes
            def do_create_repo(self):
                body = json.loads(self._body() or b"{}")
                repo = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
                with server.lock:
                    if repo in server.repos:
                        return self._json(409, {"error": "You already created this model repo", "url": f"{server.endpoint}/{repo}"})
                    empty = hashlib.sha1(repo.encode()).hexdigest()
                    server.repos[repo] = Repo(branches={"main": empty}, commits={empty: {}})
                self._json(200, {"url": f"{server.endpoint}/{repo}", "name": repo})

            def do_validate_yaml(self):
                self._body()
                self._json(200, {"errors": [], "warnings": []})

            def do_preupload(self, repo, rev):
                body = json.loads(self._body())
                if self._repo_or_404(repo) is None:
                    return
                files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in body["files"]]
                self._json(200, {"files": files})

            def do_create_branch(self, repo, rev):
                self._body()
                found = self._repo_or_404(repo)
                if found is None:
                    return
                with server.lock:
                    found.branches.setdefault(rev, found.branches["main"])
                self._json(200, {})

            def do_commit(self, repo, rev):
                lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
                found = self._repo_or_404(repo)
                if found is None:
                    return
                with server.lock:
                    parent = found.resolve(rev)
                    if parent is None:
                        return self._json(404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"})
                    files = dict(found.commits[parent])
                    for line in lines:
                        value = line["value"]
                        if line["key"] == "file":
                            files[value["path"]] = base64.b64decode(value["content"])
                        elif line["key"] == "deletedFile":
                            files.pop(value["path"], None)
                    digest = hashlib.sha1(parent.encode())
                    for path in sorted(files):
                        digest.update(path.encode() + git_blob_sha(files[path]).encode())
                    commit = digest.hexdigest()
                    found.commits[commit] = files
                    found.branches[rev] = commit
                self._json(200, {"commitUrl": f"{server.endpoint}/{repo}/commit/{commit}", "commitOid": commit,
                                 "pullRequestUrl": None})

            def do_model_info(self, repo, rev="main"):
                commit, files = self._files_at(repo, rev)
                if commit is None:
                    return
                self._json(200, {"id": repo, "modelId": repo, "sha": commit, "private": False,
                                 "siblings": [{"rfilename": p} for p in sorted(files)], "tags": []})

            def do_tree(self, repo, rev, path=None):
                commit, files = self._files_at(repo, rev)
                if commit is None:
                    return
                entries = [{"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": p}
                           for p, data in sorted(files.items()) if not path or p.startswith(path)]
                self._json(200, entries)

            def do_resolve(self, repo, rev, path):
                commit, files = self._files_at(repo, rev)
                if commit is None:
                    return
                if path not in files:
                    return self._json(404, {"error": "Entry not found"},
                                      {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit})
                data = files[path]
                fault = None
                if self.command == "GET":
                    with server.lock:
                        queue = server.faults.get(path)
                        fault = queue.pop(0) if queue else None
                if fault == "500":
                    return self._json(500, {"error": "injected failure"})
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                start = 0
                range_header = self.headers.get("Range")
                if range_header and self.command == "GET":
                    start = int(re.match(r"bytes=(\d+)-", range_header).group(1))
                body = data[start:]
                if fault == "wrong":
                    body = bytes(b ^ 0xFF for b in body)
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", f'"{git_blob_sha(data)}"')
                self.send_header("X-Repo-Commit", commit)
                self.send_header("Accept-Ranges", "bytes")
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if self.command == "HEAD":
                    return
                if fault == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        return Handler
