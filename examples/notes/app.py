#!/usr/bin/python3
"""notes: a tiny per-tenant notes API, the example app of tenement.

It follows tenement's app contract and nothing more:

  * listen on 127.0.0.1:$PORT;
  * keep everything in $DATA_DIR (here one SQLite file, $DATA_DIR/notes.db);
  * $TENEMENT_ID names the tenant, $TENEMENT_SERVICE the service;
  * stop on SIGTERM.

Only the Python 3 standard library is used, so /usr/bin/python3 of a fresh
Debian runs it. Routes:

  GET  /health  200 {"status": "ok"}
  GET  /        "notes for <id>" and how many there are
  GET  /notes   every note, oldest first
  POST /notes   add one: a JSON body {"text": "..."}, a form (text=...) or
                plain text; answers 201 with the new note

Every request is logged as one line on stdout, which journald stores:
`journalctl -u tenement@notes-<id>` shows them.
"""

import json
import os
import signal
import sqlite3
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = os.environ.get("TENEMENT_SERVICE", "notes")
TENANT = os.environ.get("TENEMENT_ID", "dev")
DATA_DIR = os.environ.get("DATA_DIR", ".")
PORT = int(os.environ.get("PORT", "8000"))
DB_PATH = os.path.join(DATA_DIR, "notes.db")
MAX_BODY = 64 * 1024  # bytes; a note is short

# stdout is a pipe to journald under systemd: flush every line.
sys.stdout.reconfigure(line_buffering=True)


def log(msg):
    print(msg, flush=True)


class Store:
    """The tenant's notes in one SQLite file; a connection per thread."""

    def __init__(self, path):
        self.path = path
        self.local = threading.local()
        with self.conn() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS notes ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " text TEXT NOT NULL,"
                " created TEXT NOT NULL)"
            )

    def conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=10)
            c.row_factory = sqlite3.Row
            self.local.conn = c
        return c

    def add(self, text):
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.conn() as db:
            cur = db.execute("INSERT INTO notes (text, created) VALUES (?, ?)", (text, created))
        return {"id": cur.lastrowid, "text": text, "created": created}

    def all(self):
        rows = self.conn().execute("SELECT id, text, created FROM notes ORDER BY id").fetchall()
        return [dict(r) for r in rows]

    def count(self):
        return self.conn().execute("SELECT COUNT(*) FROM notes").fetchone()[0]


class Handler(BaseHTTPRequestHandler):
    server_version = "notes/1"
    protocol_version = "HTTP/1.1"  # keep-alive, as tenement's proxy likes

    def send_json(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/health":
            self.send_json(200, {"status": "ok"})
        elif path == "/":
            n = STORE.count()
            self.send_json(200, {
                "message": "notes for %s" % TENANT,
                "tenant": TENANT,
                "service": SERVICE,
                "count": n,
            })
        elif path == "/notes":
            self.send_json(200, {"tenant": TENANT, "notes": STORE.all()})
        else:
            self.send_json(404, {"error": "not found"})

    do_HEAD = do_GET

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path != "/notes":
            self.send_json(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self.send_json(413 if length > MAX_BODY else 400, {"error": "bad Content-Length"})
            return
        raw = self.rfile.read(length).decode("utf-8", "replace")
        text = parse_text(self.headers.get("Content-Type", ""), raw)
        if text is None or not text.strip():
            self.send_json(400, {"error": 'want {"text": "..."}, text=... or a plain-text body'})
            return
        self.send_json(201, STORE.add(text.strip()))

    def log_message(self, fmt, *args):
        # One line per request; the client is tenement's proxy, which sets
        # X-Forwarded-For to the real one.
        client = self.headers.get("X-Forwarded-For", self.client_address[0]) if self.headers else self.client_address[0]
        log("%s %s %s" % (client, TENANT, fmt % args))


def parse_text(ctype, raw):
    ctype = ctype.split(";")[0].strip().lower()
    if ctype == "application/json" or (not ctype and raw.lstrip().startswith("{")):
        try:
            obj = json.loads(raw)
        except ValueError:
            return None
        text = obj.get("text") if isinstance(obj, dict) else None
        return text if isinstance(text, str) else None
    if ctype == "application/x-www-form-urlencoded":
        return (urllib.parse.parse_qs(raw).get("text") or [None])[0]
    return raw


STORE = None


def main():
    global STORE
    os.makedirs(DATA_DIR, exist_ok=True)
    STORE = Store(DB_PATH)
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        log("%s: %s, shutting down" % (TENANT, signal.Signals(signum).name))
        # shutdown() waits for serve_forever(), which runs in this thread:
        # ask from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("notes for %s: listening on 127.0.0.1:%d, data in %s (%d notes)" % (TENANT, PORT, DB_PATH, STORE.count()))
    server.serve_forever()
    server.server_close()
    log("%s: stopped" % TENANT)


if __name__ == "__main__":
    main()
