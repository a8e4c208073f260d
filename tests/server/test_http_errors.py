"""`duogen serve`'s refusals over raw HTTP (docs/server.md "Errors" and "Limits"), /health and
/metrics. No client library: http.client and raw sockets only.

    .venv/bin/python tests/server/test_http_errors.py --duogen build/duogen \
        --tokenizer ../shared/models/qwen2-tokenizer --work /tmp/test_http_errors
"""

import json
import os
import socket
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_harness as H  # noqa: E402

ARGS = None
SERVER = None
KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_BODY = 100000
MAX_TOKENS = 80
MODEL = None
ALLOWED = None
OUTSIDE = None
CHAT = "/v1/chat/completions"
GEN = "/v1/images/generations"
EDIT = "/v1/images/edits"
INVALID = "invalid_request_error"


def setUpModule():
    global SERVER, ALLOWED, OUTSIDE, MODEL
    model = MODEL = H.tiny_model(ARGS)
    ALLOWED = os.path.join(ARGS.work, "allowed")
    OUTSIDE = os.path.join(ARGS.work, "outside")
    for d, color in ((ALLOWED, (10, 200, 10)), (OUTSIDE, (200, 10, 10))):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "pic.png"), "wb") as f:
            f.write(H.png_bytes(32, 32, color))
    SERVER = H.ServerProcess(
        ARGS, model, "--api-key", KEY, "--max-body", str(MAX_BODY), "--max-input-images", "2",
        "--max-image-pixels", "10000", "--max-tokens", str(MAX_TOKENS), "--allow-path", ALLOWED,
        log_name="http_errors.server.log").start()


def tearDownModule():
    if SERVER is not None:
        rc = SERVER.stop()
        if rc not in (0, None):
            raise RuntimeError(f"server exited with {rc} on SIGTERM; log: {SERVER.log_path}")


def chat(**over):
    body = {"model": SERVER.model_id, "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 2}
    body.update(over)
    return body


def image_message(*urls, text="what is in the picture?"):
    parts = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return [{"role": "user", "content": parts}]


def multipart(fields, files):
    """(body bytes, content type) for multipart/form-data; files: [(name, filename, bytes)]."""
    boundary = "----duogen" + uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n".encode())
    for name, filename, data in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                   f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode() + data
                   + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def raw_post(port, path, body, headers, timeout=60):
    """POST over a raw socket, tolerating a server that answers (and closes) before it has read
    the whole body. Returns (status, parsed JSON body or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n\r\n"
    try:
        try:
            s.sendall(head.encode() + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                piece = s.recv(65536)
                if not piece:
                    break
                data += piece
                if b"\r\n\r\n" in data:
                    hdr, _, rest = data.partition(b"\r\n\r\n")
                    cl = [ln for ln in hdr.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
                    if cl and len(rest) >= int(cl[0].split(b":")[1]):
                        break
        except ConnectionResetError:
            pass
    finally:
        s.close()
    if not data:
        raise AssertionError("the server closed the connection without an answer")
    hdr, _, rest = data.partition(b"\r\n\r\n")
    status = int(hdr.split(b" ")[1])
    return status, H.parse_json(rest)


class Base(unittest.TestCase):
    def post(self, path, obj, auth=True, headers=None):
        h = dict(AUTH) if auth else {}
        h.update(headers or {})
        status, body, _ = SERVER.post_json(path, obj, h)
        return status, body

    def expect(self, path, obj, status, param=None, type_=INVALID, **kw):
        got_status, body = self.post(path, obj)
        return H.assert_openai_error(self, got_status, body, status, param=param, type_=type_, **kw)

    def expect_400(self, obj, param=None, path=CHAT, **kw):
        return self.expect(path, obj, 400, param=param, **kw)


class JsonErrorsTest(Base):
    def test_valid_request_passes(self):
        status, body = self.post(CHAT, chat())
        self.assertEqual(status, 200, body)
        self.assertIsInstance(body["choices"][0]["message"]["content"], str)

    def test_malformed_json(self):
        self.expect_400('{"model": "x", "messages": [')

    def test_body_not_an_object(self):
        self.expect_400("[1, 2, 3]")

    def test_messages_wrong_type(self):
        self.expect_400(chat(messages=5), "messages")

    def test_messages_missing(self):
        body = chat()
        del body["messages"]
        self.expect_400(body, "messages")

    def test_model_missing(self):
        body = chat()
        del body["model"]
        self.expect_400(body, "model")

    def test_seed_wrong_type(self):
        self.expect_400(chat(seed="x"), "seed")

    def test_steps_negative(self):
        self.expect_400(chat(steps=-1), "steps")

    def test_temperature_wrong_type(self):
        self.expect_400(chat(temperature="hot"), "temperature")

    def test_stream_wrong_type(self):
        self.expect_400(chat(stream="yes"), "stream")

    def test_size_malformed(self):
        self.expect_400(chat(size="64by64"), "size")

    def test_modalities_unknown(self):
        self.expect_400(chat(modalities=["audio"]), "modalities")

    def test_content_part_unknown_type(self):
        self.expect_400(chat(messages=[{"role": "user", "content": [{"type": "audio"}]}]),
                        "messages")

    def test_unknown_field(self):
        self.expect_400(chat(frobnicate=1), "frobnicate", message_has="frobnicate")

    def test_unknown_field_images(self):
        self.expect_400({"model": SERVER.model_id, "prompt": "x", "quality": "hd"}, "quality",
                        path=GEN, message_has="quality")

    def test_n_on_chat(self):
        self.expect_400(chat(n=2), "n")

    def test_max_images_out_of_range(self):
        self.expect_400(chat(max_images=17), "max_images")

    def test_max_tokens_over_limit(self):
        self.expect_400(chat(max_tokens=MAX_TOKENS + 1), "max_tokens", message_has="max_tokens")

    def test_max_completion_tokens_over_limit(self):
        err = self.expect_400(chat(max_completion_tokens=MAX_TOKENS + 1))
        self.assertIn(err["param"], ("max_tokens", "max_completion_tokens"), err)

    def test_default_max_tokens_is_the_models_capped_at_the_limit(self):
        # docs/server.md: no max_tokens -> the model's max_new_tokens default, capped at
        # --max-tokens.
        with open(os.path.join(MODEL, "duogen.json")) as f:
            model_default = json.load(f)["defaults"]["max_new_tokens"]
        expected = min(model_default, MAX_TOKENS)
        body = chat(temperature=0, seed=1)
        del body["max_tokens"]
        status, r = self.post(CHAT, body)
        self.assertEqual(status, 200, r)
        u = r["usage"]
        self.assertLessEqual(u["completion_tokens"], expected)
        if r["choices"][0]["finish_reason"] == "length":
            self.assertEqual(u["completion_tokens"], expected)

    def test_images_n_out_of_range(self):
        for n in (0, 5):
            with self.subTest(n=n):
                self.expect_400({"model": SERVER.model_id, "prompt": "x", "n": n}, "n", path=GEN)

    def test_images_response_format_url(self):
        self.expect_400({"model": SERVER.model_id, "prompt": "x", "response_format": "url"},
                        "response_format", path=GEN)


class ImageInputErrorsTest(Base):
    def test_bad_base64(self):
        self.expect_400(chat(messages=image_message("data:image/png;base64,@@not*base64%%")),
                        "messages")

    def test_data_url_not_an_image(self):
        url = H.data_url(b"hello, this is not a PNG at all" * 4)
        self.expect_400(chat(messages=image_message(url)), "messages")

    def test_too_many_images(self):
        png = H.png_bytes(8, 8)
        self.expect(CHAT, chat(messages=image_message(*[H.data_url(png)] * 3)), 413, type_=None)

    def test_two_images_are_allowed(self):
        png = H.png_bytes(8, 8)
        status, body = self.post(CHAT, chat(messages=image_message(*[H.data_url(png)] * 2)))
        self.assertEqual(status, 200, body)

    def test_image_too_large(self):
        png = H.png_bytes(128, 128)  # 16384 pixels > --max-image-pixels 10000
        self.assertLess(len(png), MAX_BODY // 2)
        self.expect(CHAT, chat(messages=image_message(H.data_url(png))), 413, type_=None)

    def test_file_outside_allow_path(self):
        for url in (os.path.join(OUTSIDE, "pic.png"), "file://" + os.path.join(OUTSIDE, "pic.png"),
                    os.path.join(ALLOWED, "..", "outside", "pic.png")):
            with self.subTest(url=url):
                self.expect_400(chat(messages=image_message(url)), "messages")

    def test_file_missing_inside_allow_path(self):
        self.expect_400(chat(messages=image_message(os.path.join(ALLOWED, "nope.png"))),
                        "messages")

    def test_file_inside_allow_path(self):
        for url in (os.path.join(ALLOWED, "pic.png"), "file://" + os.path.join(ALLOWED, "pic.png")):
            with self.subTest(url=url):
                status, body = self.post(CHAT, chat(messages=image_message(url)))
                self.assertEqual(status, 200, body)
                self.assertGreater(body["usage"]["prompt_tokens"], 0)

    def test_edit_without_image(self):
        body, ctype = multipart({"prompt": "make it blue", "model": SERVER.model_id}, [])
        status, _, raw = SERVER.request("POST", EDIT, body, dict(AUTH, **{"Content-Type": ctype}))
        H.assert_openai_error(self, status, H.parse_json(raw), 400, type_=INVALID)

    def test_edit_with_mask(self):
        png = H.png_bytes(16, 16)
        body, ctype = multipart({"prompt": "x", "model": SERVER.model_id},
                                [("image", "a.png", png), ("mask", "m.png", png)])
        status, _, raw = SERVER.request("POST", EDIT, body, dict(AUTH, **{"Content-Type": ctype}))
        H.assert_openai_error(self, status, H.parse_json(raw), 400, param="mask", type_=INVALID)

    def test_edit_too_many_images(self):
        png = H.png_bytes(8, 8)
        body, ctype = multipart({"prompt": "x", "model": SERVER.model_id},
                                [("image[]", f"{i}.png", png) for i in range(3)])
        status, _, raw = SERVER.request("POST", EDIT, body, dict(AUTH, **{"Content-Type": ctype}))
        H.assert_openai_error(self, status, H.parse_json(raw), 413)

    def test_edit_not_an_image(self):
        body, ctype = multipart({"prompt": "x", "model": SERVER.model_id},
                                [("image", "a.png", b"definitely not a png")])
        status, _, raw = SERVER.request("POST", EDIT, body, dict(AUTH, **{"Content-Type": ctype}))
        H.assert_openai_error(self, status, H.parse_json(raw), 400, type_=INVALID)


class LimitsAndRoutingTest(Base):
    def test_oversized_body(self):
        body = json.dumps(chat(messages=[{"role": "user", "content": "a" * (MAX_BODY + 50000)}]))
        status, parsed = raw_post(SERVER.port, CHAT, body.encode(),
                                  dict(AUTH, **{"Content-Type": "application/json"}))
        H.assert_openai_error(self, status, parsed, 413)

    def test_raw_post_of_a_normal_body(self):
        body = json.dumps(chat(messages=[{"role": "user", "content": "a b " * 100}]))
        status, parsed = raw_post(SERVER.port, CHAT, body.encode(),
                                  dict(AUTH, **{"Content-Type": "application/json"}))
        self.assertEqual(status, 200, parsed)

    def test_missing_key(self):
        status, body = self.post(CHAT, chat(), auth=False)
        H.assert_openai_error(self, status, body, 401)
        status, _, raw = SERVER.request("GET", "/v1/models")
        H.assert_openai_error(self, status, H.parse_json(raw), 401)

    def test_wrong_key(self):
        for auth in ("Bearer not-the-key", f"Basic {KEY}", KEY):
            with self.subTest(auth=auth):
                status, body = self.post(CHAT, chat(), auth=False, headers={"Authorization": auth})
                H.assert_openai_error(self, status, body, 401)

    def test_open_endpoints_need_no_key(self):
        for path in ("/", "/health", "/metrics"):
            with self.subTest(path=path):
                status, _, _ = SERVER.request("GET", path)
                self.assertEqual(status, 200)

    def test_models_with_key(self):
        status, body, _ = SERVER.get_json("/v1/models", AUTH)
        self.assertEqual(status, 200)
        self.assertEqual(body["object"], "list")
        self.assertEqual([m["id"] for m in body["data"]], [SERVER.model_id])
        m = body["data"][0]
        self.assertEqual(m["object"], "model")
        self.assertEqual(m["owned_by"], "duogen")
        self.assertIsInstance(m["created"], int)

    def test_unknown_model(self):
        self.expect(CHAT, chat(model="gpt-4o"), 404, type_=None, code="model_not_found")
        self.expect(GEN, {"model": "gpt-image-1", "prompt": "x"}, 404, type_=None,
                    code="model_not_found")

    def test_unknown_endpoint(self):
        for method in ("GET", "POST"):
            with self.subTest(method=method):
                status, _, raw = SERVER.request(method, "/v1/no-such-endpoint",
                                                "{}" if method == "POST" else None, AUTH)
                H.assert_openai_error(self, status, H.parse_json(raw), 404)

    def test_get_on_post_endpoint(self):
        # docs/server.md is silent on the method; 404 or 405, with the error JSON.
        for path in (CHAT, GEN, EDIT):
            with self.subTest(path=path):
                status, _, raw = SERVER.request("GET", path, None, AUTH)
                self.assertIn(status, (404, 405))
                H.assert_openai_error(self, status, H.parse_json(raw), status)

    def test_root_page(self):
        status, headers, raw = SERVER.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/html"), headers)
        html = raw.decode("utf-8", "replace").lower()
        self.assertIn("<html", html)
        for bad in ('src="http', "src='http", 'href="http', "@import url(http"):
            self.assertNotIn(bad, html, "the page is self-contained (no CDN)")


class HealthMetricsTest(Base):
    NAMES = ["duogen_requests_total", "duogen_queue_depth", "duogen_jobs_running",
             "duogen_prompt_tokens_total", "duogen_completion_tokens_total", "duogen_images_total",
             "duogen_decode_tokens_per_second", "duogen_request_duration_seconds"]

    def test_health(self):
        status, headers, raw = SERVER.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertIn("application/json", headers.get("content-type", ""))
        self.assertEqual(json.loads(raw), {"status": "ok"})

    def test_metrics_names(self):
        status, headers, raw = SERVER.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        text = raw.decode()
        for name in self.NAMES:
            self.assertRegex(text, rf"(?m)^{name}(_bucket|_sum|_count)?[{{ ]", name)
        self.assertRegex(text, r"(?m)^# TYPE duogen_request_duration_seconds histogram")
        self.assertRegex(text, r"(?m)^# TYPE duogen_requests_total counter")
        m = SERVER.metrics()
        self.assertEqual(H.metric_sum(m, "duogen_jobs_running"), 0)
        self.assertEqual(H.metric_sum(m, "duogen_queue_depth"), 0)

    def test_counters_increase(self):
        before = SERVER.metrics()
        status, r = self.post(CHAT, chat(max_tokens=3))
        self.assertEqual(status, 200, r)
        status, g = self.post(GEN, {"model": SERVER.model_id, "prompt": "a cat", "n": 1,
                                    "size": "64x64", "steps": 2, "seed": 1,
                                    "response_format": "b64_json"})
        self.assertEqual(status, 200, g)
        self.expect_400(chat(seed="x"), "seed")
        # The server counts a request in httplib's logger, just after its answer is written: poll
        # until the three requests above are counted (the GETs of /metrics count themselves).
        endpoint_count = lambda m, word: sum(  # noqa: E731
            v for (n, ls), v in m.items()
            if n == "duogen_requests_total" and word in (dict(ls).get("endpoint") or ""))
        deadline = time.monotonic() + 10.0
        while True:
            after = SERVER.metrics()
            if (endpoint_count(after, "chat") - endpoint_count(before, "chat") >= 2 and
                    endpoint_count(after, "generations") - endpoint_count(before, "generations") >= 1
                    or time.monotonic() > deadline):
                break
            time.sleep(0.02)

        def grew(name, at_least=1, **labels):
            d = H.metric_sum(after, name, **labels) - H.metric_sum(before, name, **labels)
            self.assertGreaterEqual(d, at_least, f"{name}{labels} grew by {d}")

        grew("duogen_requests_total", 3)
        grew("duogen_requests_total", 2, status="200")
        grew("duogen_requests_total", 1, status="400")
        grew("duogen_prompt_tokens_total", r["usage"]["prompt_tokens"])
        grew("duogen_completion_tokens_total", r["usage"]["completion_tokens"])
        grew("duogen_images_total", 1)
        grew("duogen_request_duration_seconds_count", 2)
        endpoints = {dict(ls).get("endpoint") for (n, ls) in after if n == "duogen_requests_total"}
        self.assertTrue(any(e and "chat" in e for e in endpoints), endpoints)
        self.assertTrue(any(e and "generations" in e for e in endpoints), endpoints)
        self.assertGreater(H.metric_sum(after, "duogen_decode_tokens_per_second"), 0)


if __name__ == "__main__":
    ARGS = H.parse_args()
    H.main()
