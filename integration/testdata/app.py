"""A tiny tenant for tenement's integration tests: Python's standard
library only. It listens on 127.0.0.1:$PORT; / answers who it is and
writes a file into $DATA_DIR, /health answers ok. On SIGTERM it writes
$DATA_DIR/sigterm and exits 0."""

import http.server
import os
import signal
import sys


def on_term(signum, frame):
    with open(os.path.join(os.environ["DATA_DIR"], "sigterm"), "w") as f:
        f.write("stopped by SIGTERM\n")
    print("python app got SIGTERM", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        else:
            path = os.path.join(os.environ["DATA_DIR"], "python.txt")
            with open(path, "w") as f:
                f.write("written by python\n")
            body = ("hello from python uid=%d pid=%d wrote=%s\n" % (os.getuid(), os.getpid(), path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


print("python app starting", flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
