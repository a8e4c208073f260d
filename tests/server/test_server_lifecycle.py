"""`duogen serve` under load and over its life (docs/server.md): the queue limit (429), a client
that goes away mid-stream (its job is cancelled), per-request timeouts (504), SIGTERM (queued jobs
503, exit 0), restarting on the same port (after SIGTERM and after SIGKILL), and byte-identical
PNGs from the server and from `duogen generate`.

    .venv/bin/python tests/server/test_server_lifecycle.py --duogen build/duogen \
        --tokenizer ../shared/models/qwen2-tokenizer --work /tmp/test_server_lifecycle

"Slow" jobs are sized at start-up: a few timed runs give the cost of one sampling step, and the
slow job gets the steps for about SLOW_SECONDS on this machine.
"""

import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_harness as H  # noqa: E402

ARGS = None
MODEL = None
SERVER = None  # --max-queue 1, shared by the queue, cancel and byte-identity tests
SLOW_SECONDS = 4.0  # long enough that the latency bounds below hold on a loaded 2-core box
SLOW = {}  # {"steps", "size", "seconds"}: filled by calibrate()
CHAT = "/v1/chat/completions"
PROMPT = [{"role": "user", "content": "Draw a red lighthouse."}]


def quick_payload():
    return {"model": SERVER.model_id, "messages": PROMPT, "max_tokens": 2, "temperature": 0}


def image_payload(model_id, steps, size=128, max_tokens=2, seed=1):
    # <BOV> first (biased), one image, one more token: the job is almost all sampling steps.
    return {"model": model_id, "messages": PROMPT, "max_tokens": max_tokens, "temperature": 0,
            "seed": seed, "modalities": ["text", "image"], "max_images": 1,
            "logit_bias": H.BOV_BIAS, "steps": steps, "width": size, "height": size}


def slow_payload(model_id):
    return image_payload(model_id, SLOW["steps"], SLOW["size"])


def timed_post(server, payload, timeout=300):
    t = time.monotonic()
    status, body, _ = server.post_json(CHAT, payload, timeout=timeout)
    return status, body, time.monotonic() - t


def calibrate(server):
    """Sizes the slow job (256x256, one image) so that it takes about SLOW_SECONDS here: a few
    runs, each rescaling the steps by target / measured."""
    size, steps = 256, 20
    timed_post(server, image_payload(server.model_id, 2, size))  # warm-up
    for _ in range(5):
        status, body, seconds = timed_post(server, image_payload(server.model_id, steps, size))
        assert status == 200, body
        if 0.8 * SLOW_SECONDS <= seconds <= 1.5 * SLOW_SECONDS or steps == 1000:
            break
        steps = max(8, min(1000, math.ceil(steps * SLOW_SECONDS / max(seconds, 1e-3))))
    SLOW.update(steps=steps, size=size, seconds=seconds)
    print(f"\ncalibration: slow job = {steps} steps at {size}x{size}, {seconds:.2f} s",
          file=sys.stderr)
    assert seconds >= 1.5, "cannot make a slow enough job"


def setUpModule():
    global MODEL, SERVER
    MODEL = H.tiny_model(ARGS)
    SERVER = H.ServerProcess(ARGS, MODEL, "--max-queue", "1", log_name="lifecycle.server.log")
    SERVER.start()
    calibrate(SERVER)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def wait_metric(server, name, value, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if H.metric_sum(server.metrics(), name) == value:
            return True
        time.sleep(0.02)
    return False


class Call(threading.Thread):
    """One request on its own thread: .status, .body (parsed), .chunks/.done (streamed),
    .error (an exception), .seconds."""

    def __init__(self, server, payload, stream=False, timeout=300):
        super().__init__(daemon=True)
        self.server, self.payload, self.stream, self.timeout = server, payload, stream, timeout
        self.status = self.body = self.error = None
        self.chunks, self.done, self.seconds = [], False, None

    def run(self):
        t = time.monotonic()
        try:
            if self.stream:
                self.status, self.chunks, self.done, self.body = H.stream_chat(
                    self.server.port, self.payload, timeout=self.timeout)
            else:
                self.status, self.body, _ = self.server.post_json(CHAT, self.payload,
                                                                  timeout=self.timeout)
        except Exception as e:  # noqa: BLE001  (recorded, asserted by the test)
            self.error = e
        self.t0_answer = time.monotonic()
        self.seconds = self.t0_answer - t


class QueueTest(unittest.TestCase):
    def test_queue_full_gives_429(self):
        running = Call(SERVER, slow_payload(SERVER.model_id))
        running.start()
        self.assertTrue(wait_metric(SERVER, "duogen_jobs_running", 1), "the first job runs")
        calls = [Call(SERVER, slow_payload(SERVER.model_id), stream=(i % 2 == 1)) for i in range(5)]
        for c in calls:
            c.start()
        for c in calls + [running]:
            c.join(120)
        for c in calls + [running]:
            self.assertIsNone(c.error, f"request failed: {c.error!r}")
        self.assertEqual(running.status, 200, running.body)
        statuses = sorted(c.status for c in calls)
        # One waits in the queue (--max-queue 1), the other four are refused at once.
        self.assertEqual(statuses, [200, 429, 429, 429, 429], statuses)
        for c in calls:
            if c.status == 429:
                H.assert_openai_error(self, c.status, c.body, 429)
                self.assertLess(c.seconds, SLOW["seconds"] * 0.8, "429 comes at once")
            elif c.stream:
                self.assertTrue(c.done, "the accepted stream ends with [DONE]")
                self.assertFalse(any("error" in ch for ch in c.chunks), c.chunks[-3:])
            else:
                self.assertEqual(len(c.body["choices"]), 1)
        self.assertTrue(wait_metric(SERVER, "duogen_jobs_running", 0))
        self.assertEqual(H.metric_sum(SERVER.metrics(), "duogen_queue_depth"), 0)


class CancelTest(unittest.TestCase):
    def test_client_closing_mid_stream_cancels_the_job(self):
        images_before = H.metric_sum(SERVER.metrics(), "duogen_images_total")
        body = json.dumps(dict(slow_payload(SERVER.model_id), stream=True)).encode()
        s = socket.create_connection(("127.0.0.1", SERVER.port), timeout=60)
        s.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        got, t0 = b"", time.monotonic()
        while got.count(b'"progress"') < 2:
            piece = s.recv(4096)
            self.assertTrue(piece, f"stream ended early: {got[-500:]!r}")
            got += piece
            self.assertLess(time.monotonic() - t0, 60)
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:200])
        self.assertIn(b"text/event-stream", got.split(b"\r\n\r\n")[0].lower())
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        self.assert_job_cancelled(t0, images_before)
        # The gauge drops just after the quick request's answer is written: poll, do not race.
        self.assertTrue(wait_metric(SERVER, "duogen_jobs_running", 0))

    def assert_job_cancelled(self, t0, images_before):
        """After the client of a slow job started at t0 went away, the next request is served at
        once (the job was cancelled, not finished) and no image was made."""
        t_closed = time.monotonic()
        status, r, latency = timed_post(SERVER, quick_payload(), timeout=120)
        self.assertEqual(status, 200, r)
        remaining = SLOW["seconds"] - (t_closed - t0)
        self.assertLess(latency, max(0.5 * remaining, 0.5),
                        f"the next request waited {latency:.2f} s: the closed request's job "
                        f"(about {remaining:.2f} s left) was not cancelled")
        self.assertEqual(H.metric_sum(SERVER.metrics(), "duogen_images_total"), images_before,
                         "the cancelled job made no image")

    def test_client_closing_a_blocking_request_cancels_the_job(self):
        # Not streamed: nothing is written until the answer, so the server watches the socket.
        images_before = H.metric_sum(SERVER.metrics(), "duogen_images_total")
        body = json.dumps(slow_payload(SERVER.model_id)).encode()
        s = socket.create_connection(("127.0.0.1", SERVER.port), timeout=60)
        s.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        t0 = time.monotonic()
        while H.metric_sum(SERVER.metrics(), "duogen_jobs_running") < 1:
            self.assertLess(time.monotonic() - t0, 30, "the job never started")
            time.sleep(0.05)
        s.close()
        self.assert_job_cancelled(t0, images_before)


class TimeoutTest(unittest.TestCase):
    def test_timeout_gives_504(self):
        with H.ServerProcess(ARGS, MODEL, "--timeout", "1", "--max-queue", "4",
                             log_name="lifecycle.timeout.log") as server:
            payload = slow_payload(server.model_id)
            # Not streamed: 504 with the error JSON, at about the deadline.
            status, body, seconds = timed_post(server, payload)
            H.assert_openai_error(self, status, body, 504)
            self.assertLess(seconds, 1 + 0.7 * (SLOW["seconds"] - 1) + 0.3)
            # Streamed: 504 before the stream began, or an error chunk then [DONE].
            status, chunks, done, body = H.stream_chat(server.port, payload)
            if status == 200:
                errors = [ch for ch in chunks if "error" in ch]
                self.assertEqual(len(errors), 1, chunks[-3:])
                self.assertIs(chunks[-1], errors[0], "the error chunk is the last")
                for key in ("message", "type", "code"):
                    self.assertIn(key, errors[0]["error"], errors[0])
                self.assertTrue(done, "data: [DONE] after the error chunk")
            else:
                H.assert_openai_error(self, status, body, 504)
            # A job and one queued behind it: both past their deadline, both 504, soon.
            a, b = Call(server, payload), Call(server, payload)
            t = time.monotonic()
            a.start()
            time.sleep(0.05)
            b.start()
            a.join(60)
            b.join(60)
            for c in (a, b):
                self.assertIsNone(c.error)
                H.assert_openai_error(self, c.status, c.body, 504)
            self.assertLess(time.monotonic() - t, 1 + 0.7 * (SLOW["seconds"] - 1) + 1.0)
            # Short requests still work.
            status, r, _ = timed_post(server, dict(quick_payload(), model=server.model_id))
            self.assertEqual(status, 200, r)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_then_restart_on_the_same_port(self):
        server = H.ServerProcess(ARGS, MODEL, "--max-queue", "4", log_name="lifecycle.sigterm.log")
        server.start()
        port = server.port
        try:
            running = Call(server, slow_payload(server.model_id))
            running.start()
            self.assertTrue(wait_metric(server, "duogen_jobs_running", 1))
            queued = [Call(server, slow_payload(server.model_id), stream=(i == 1)) for i in range(2)]
            for c in queued:
                c.start()
            self.assertTrue(wait_metric(server, "duogen_queue_depth", 2), "two jobs queued")
            t0 = time.monotonic()
            for c in queued:
                c.t0 = t0
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # No new connections (refused), or a 503 if the listener still answers.
            try:
                status, body, _ = server.post_json(CHAT, quick_payload(), timeout=10)
                if server.proc.poll() is None:
                    H.assert_openai_error(self, status, body, 503)
            except (ConnectionError, OSError):
                pass
            rc = server.proc.wait(20)
            elapsed = time.monotonic() - t0
            for c in queued + [running]:
                c.join(20)
        finally:
            server.kill()
        self.assertEqual(rc, 0, f"exit status after SIGTERM; log {server.log_path}")
        self.assertLess(elapsed, 15)
        for c in queued:
            self.assertIsNone(c.error, f"a queued request got {c.error!r}, not a 503")
            if c.stream and c.status == 200:
                # The stream had begun (headers and the role chunk): the 503 is an error chunk.
                self.assertTrue(c.chunks and "error" in c.chunks[-1], c.chunks[-3:])
                for key in ("message", "type", "code"):
                    self.assertIn(key, c.chunks[-1]["error"])
                self.assertFalse([ch for ch in c.chunks[:-1] if ch.get("choices") and
                                  ch["choices"][0]["delta"].get("content")], "no content")
                self.assertTrue(c.done, "data: [DONE] after the error chunk")
            else:
                H.assert_openai_error(self, c.status, c.body, 503)
        late = max(c.t0_answer - t0 for c in queued)
        self.assertIsNone(running.error, f"the running request got {running.error!r}")
        if running.status != 200:
            H.assert_openai_error(self, running.status, running.body, running.status)
            self.assertGreaterEqual(running.status, 500)

        # The port is free again at once: a new server binds it (SO_REUSEADDR) and serves.
        for how in ("SIGKILL", "SIGTERM"):
            again = H.ServerProcess(ARGS, MODEL, port=port, log_name="lifecycle.restart.log")
            again.start()
            try:
                self.assertEqual(again.port, port)
                status, body, _ = again.get_json("/health")
                self.assertEqual((status, body), (200, {"status": "ok"}))
                status, r, _ = again.post_json(CHAT, dict(quick_payload(), model=again.model_id))
                self.assertEqual(status, 200, r)
            finally:
                if how == "SIGKILL":
                    again.kill()
                else:
                    self.assertEqual(again.stop(), 0)

        # Checked last, so that the restarts above are tested whatever this says.
        self.assertLess(late, 1.5, f"a cancelled queued request was answered {late:.2f} s after "
                        f"SIGTERM (the running job took {running.seconds:.2f} s in all): queued "
                        "requests should get their 503 at once, not when the running job ends")


class IdleShutdownTest(unittest.TestCase):
    def test_sigterm_with_an_idle_keep_alive_connection_exits_at_once(self):
        # Clients (the openai package, browsers) keep connections open between requests; with
        # no job running there is nothing to wait for.
        server = H.ServerProcess(ARGS, MODEL, log_name="lifecycle.idle.log")
        server.start()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request("GET", "/v1/models")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            rc = server.proc.wait(30)
            elapsed = time.monotonic() - t0
        finally:
            conn.close()
            server.kill()
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 3.5, f"an idle server took {elapsed:.2f} s to exit on SIGTERM "
                        "with one idle keep-alive connection open")


class SameAsGenerateTest(unittest.TestCase):
    def test_server_png_is_byte_identical_to_generate(self):
        messages = [{"role": "user", "content": "Paint a blue boat on a calm lake, then say why."}]
        opts = {"seed": 5, "steps": 4, "width": 64, "height": 64, "max_images": 1,
                "logit_bias": H.BOV_BIAS}
        work = os.path.join(ARGS.work, "same")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        job_file = os.path.join(work, "job.json")
        with open(job_file, "w") as f:
            json.dump(dict(id="same", messages=messages, max_new_tokens=40, **opts), f)
        out = os.path.join(work, "out")
        subprocess.run([ARGS.duogen, "-v", "warn", "generate", "--model", MODEL, "--prompts",
                        job_file, "--out", out, "-q"], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "same", "result.json")) as f:
            result = json.load(f)
        with open(os.path.join(out, "same", "image-1.png"), "rb") as f:
            want_png = f.read()

        status, r, _ = SERVER.post_json(CHAT, dict(
            model=SERVER.model_id, messages=messages, max_tokens=40, job="same",
            modalities=["text", "image"], **opts))
        self.assertEqual(status, 200, r)
        content = r["choices"][0]["message"]["content"]
        self.assertIsInstance(content, list)
        kinds = ["text" if p["type"] == "text" else "image" for p in content]
        self.assertEqual(kinds, [s["type"] for s in result["output"]],
                         "the same interleaving as generate's result.json")
        pngs = [H.decode_png(p["image_url"]["url"])[1] for p in content if p["type"] == "image_url"]
        self.assertEqual(len(pngs), 1)
        self.assertEqual(pngs[0], want_png, "the PNG (pixels and tEXt) equals generate's image-1.png")
        text = "".join(p["text"] for p in content if p["type"] == "text")
        want_text = "".join(s["text"] for s in result["output"] if s["type"] == "text")
        self.assertEqual(text, want_text)
        self.assertEqual(r["usage"]["prompt_tokens"], result["prompt_tokens"])
        self.assertEqual(r["usage"]["completion_tokens"], result["generated_tokens"])
        self.assertEqual(r["usage"]["images"], result["images"])


if __name__ == "__main__":
    ARGS = H.parse_args()
    H.main()
