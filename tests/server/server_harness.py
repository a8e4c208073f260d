"""Shared set-up for the server tests: a tiny model written once per test run and a real
`duogen serve` process on 127.0.0.1 (port 0: the server picks a free port and prints it).

Every test script is run by ctest as
    python tests/server/<script>.py --duogen BUILD/duogen --tokenizer ../shared/models/qwen2-tokenizer
                                     --work BUILD/tests/server/<script>
and exits 0 (pass), 1 (fail) or 77 (skipped: a client library or Chromium is missing).
"""

import argparse
import base64
import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

SKIP = 77
LISTEN_RE = re.compile(r"duogen serve: listening on (http://[^\s]+)")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--duogen", required=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--work", required=True)
    args, rest = p.parse_known_args()
    sys.argv = [sys.argv[0]] + rest
    os.makedirs(args.work, exist_ok=True)
    return args


def tiny_model(args, name="tiny-duogen"):
    """Writes (once) a tiny random DuoGen model under the work directory and returns its path."""
    out = os.path.join(args.work, name)
    if not os.path.exists(os.path.join(out, "duogen.json")):
        subprocess.run([args.duogen, "-v", "warn", "init-tiny", "--out", out, "--overwrite",
                        "--tokenizer", args.tokenizer], check=True)
    return out


class ServerProcess:
    """`duogen serve --model MODEL --port 0 EXTRA...`, started and waited for in __enter__."""

    def __init__(self, args, model, *extra, log_name="server.log", startup_timeout=120, port=0):
        self.cmd = [args.duogen, "serve", "--model", model, "--host", "127.0.0.1", "--port",
                    str(port), *extra]
        self.model = model
        self.model_id = os.path.basename(os.path.normpath(model))
        self.log_path = os.path.join(args.work, log_name)
        self.startup_timeout = startup_timeout
        self.proc = None
        self.url = None
        self._lines = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.log = open(self.log_path, "a")
        try:
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=self.log,
                                         text=True)
        except OSError:
            self.log.close()
            raise
        found = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self._lines.append(line)
                self.log.write(line)
                self.log.flush()
                m = LISTEN_RE.search(line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.time() + self.startup_timeout
        while not found.is_set():
            if self.proc.poll() is not None:
                self._close()
                raise RuntimeError(f"server exited with {self.proc.returncode}; log: {self.log_path}")
            if time.time() > deadline:
                self.kill()
                raise RuntimeError(f"server did not start in {self.startup_timeout} s")
            found.wait(0.1)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server and returns its exit code (SIGKILL if it does not exit in time)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self._close()
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"server did not exit within {timeout} s of signal {sig}")
        finally:
            self._close()

    def _close(self):
        """After the process has exited: lets the stdout pump finish, closes the pipe and log."""
        pump = getattr(self, "_pump", None)
        if pump is not None:
            pump.join(5)
        if pump is not None and pump.is_alive():
            return
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if not self.log.closed:
            self.log.close()

    def get(self, path, headers=None):
        req = urllib.request.Request(self.url + path, headers=headers or {})
        return urllib.request.urlopen(req, timeout=60)

    def kill(self):
        """SIGKILL, and waits for the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self._close()

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    # Raw HTTP helpers (http.client; every call opens its own connection).

    def request(self, method, path, body=None, headers=None, timeout=120):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        return http_request(self.port, method, path, body, headers, timeout)

    def post_json(self, path, obj, headers=None, timeout=120):
        """POSTs obj as JSON; returns (status, parsed JSON or None, raw body bytes)."""
        body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        status, _, raw = self.request("POST", path, body, h, timeout)
        return status, parse_json(raw), raw

    def get_json(self, path, headers=None, timeout=60):
        status, _, raw = self.request("GET", path, None, headers, timeout)
        return status, parse_json(raw), raw

    def metrics(self):
        """GET /metrics parsed: {(name, frozenset(labels.items())): value}."""
        status, _, raw = self.request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return parse_prometheus(raw.decode())


def http_request(port, method, path, body=None, headers=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def parse_json(raw):
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def iter_sse(lines):
    """Yields each event's data (str) from an iterable of byte lines (an http.client response)."""
    data = []
    for line in lines:
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
    if data:
        yield "\n".join(data)


def stream_chat(port, payload, headers=None, timeout=300):
    """POSTs a streamed chat request; returns (status, chunks, done, raw_error_body): the parsed
    JSON chunks before `data: [DONE]` and whether [DONE] came. A non-200 answer gives
    (status, [], False, parsed body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request("POST", "/v1/chat/completions", body=json.dumps(dict(payload, stream=True)),
                     headers=h)
        resp = conn.getresponse()
        if resp.status != 200:
            return resp.status, [], False, parse_json(resp.read())
        chunks, done = [], False
        for data in iter_sse(resp):
            if data == "[DONE]":
                done = True
                break
            chunks.append(json.loads(data))
        return resp.status, chunks, done, None
    finally:
        conn.close()


def parse_prometheus(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)", line)
        if not m:
            continue
        labels = {}
        if m.group(3):
            for lm in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3)):
                labels[lm.group(1)] = lm.group(2)
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        out[(m.group(1), frozenset(labels.items()))] = value
    return out


def metric_sum(metrics, name, **labels):
    """Sum of every sample of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


def png_bytes(width, height, color=(200, 30, 30), noise=False):
    """A PNG made with Pillow (noise=True: random pixels, so it does not compress)."""
    from PIL import Image
    if noise:
        img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        img = Image.new("RGB", (width, height), color)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def data_url(png, mime="image/png"):
    return f"data:{mime};base64," + base64.b64encode(png).decode()


def decode_png(b64_or_url):
    """PIL image from base64 PNG or a data: URL; also returns the raw bytes."""
    from PIL import Image
    s = b64_or_url
    if s.startswith("data:"):
        header, _, s = s.partition(",")
        assert header == "data:image/png;base64", header
    raw = base64.b64decode(s, validate=True)
    img = Image.open(io.BytesIO(raw))
    img.load()
    return img, raw


BOV_BIAS = {"<BOV>": 10}


def main():
    """unittest.main() with the skip exit code when every test was skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    result = prog.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(SKIP)
    sys.exit(0)


def assert_openai_error(tc, status, body, want_status, param=None, type_=None, code=None,
                        message_has=None):
    """Asserts an OpenAI error answer: the status, {"error": {"message", "type", "param", "code"}}
    (param/code may be null) and, when given, the param (the field's name is part of it), type,
    code and a word of the message."""
    tc.assertEqual(status, want_status, f"body: {body!r}")
    tc.assertIsInstance(body, dict, "the error body is not JSON")
    tc.assertIn("error", body, body)
    err = body["error"]
    tc.assertIsInstance(err, dict, body)
    for key in ("message", "type", "param", "code"):
        tc.assertIn(key, err, f"error JSON lacks '{key}': {body}")
    tc.assertIsInstance(err["message"], str)
    tc.assertTrue(err["message"], body)
    tc.assertIsInstance(err["type"], str)
    tc.assertTrue(err["type"], body)
    if type_ is not None:
        tc.assertEqual(err["type"], type_, body)
    if param is not None:
        tc.assertIsInstance(err["param"], str, f"error.param should name '{param}': {body}")
        tc.assertIn(param, err["param"], body)
    if code is not None:
        tc.assertEqual(err["code"], code, body)
    if message_has is not None:
        tc.assertIn(message_has.lower(), err["message"].lower(), body)
    return err
