#!/usr/bin/env python3
"""The web page `duogen serve` answers at `/` (tools/server/public/index.html), driven in headless
Chromium through selenium against a real server on the tiny random model:

    .venv/bin/python tests/server/test_web_page.py --duogen build/duogen \
        --tokenizer ../shared/models/qwen2-tokenizer --work /tmp/webtest

- `/` is one self-contained HTML file (no external scripts, styles or fonts).
- A chat turn with "make images" on (steps 4, 64 x 64, max 1 image, a `<BOV>` logit bias typed into
  the page's extra-fields box so the random model opens an image): the page streams the answer
  into the assistant message, which ends with rendered text and an `img.gen-image` whose natural
  size is 64 x 64; no progress bar is left; the usage line is shown; the request the page sent has
  the fields of the settings (stream, include_usage, modalities, steps, width, height, ...).
  A follow-up turn with images off resends the conversation, the first answer as text and
  image_url parts, and the server answers it. The screenshot goes to WORK/page.png, and to
  docs/images/server-page.png when DUOGEN_UPDATE_DOCS=1.
- Stop: a long request (1000 steps, 512 x 512) is stopped while an image is being sampled: the page
  is idle again within a few seconds, says "Stopped", keeps no progress bar, and the server's job
  ends (duogen_jobs_running drops to 0: the server cancels a job whose client went away).
- An attached image is shown as a thumbnail, sent as an image_url data URL part and shown in the
  user's message.
- Client-side validation: a width that is not a multiple of 16 is refused before anything is sent;
  Enter sends, Shift+Enter makes a new line.
- A request the server refuses (an unknown field typed into the extra-fields box): its 400 message
  is shown and the prompt is offered again.
- With `--api-key`: without a key the page shows the server's 401 message; with the right key it
  lists the model and answers; with a wrong key the chat request's 401 message is shown.
Exit 0 = pass, 1 = failure, 77 = skipped (selenium, Chromium or chromedriver missing).
"""

import json
import os
import shutil
import struct
import sys
import time
import unittest
import urllib.error
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_harness as harness  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False


def _which(env, *names):
    if os.environ.get(env):
        return os.environ[env] if os.access(os.environ[env], os.X_OK) else None
    for n in names:
        p = shutil.which(n) or (n if os.path.isabs(n) and os.access(n, os.X_OK) else None)
        if p:
            return p
    return None


CHROMIUM = _which("DUOGEN_CHROMIUM", "chromium", "chromium-browser", "google-chrome",
                  "/usr/bin/chromium")
CHROMEDRIVER = _which("DUOGEN_CHROMEDRIVER", "chromedriver", "/usr/bin/chromedriver",
                      "/usr/lib/chromium/chromedriver")
SKIP_REASON = ("selenium is not installed" if not HAVE_SELENIUM else
               "Chromium not found" if not CHROMIUM else
               "chromedriver not found" if not CHROMEDRIVER else None)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_NAME = "tiny-duogen"
BOV_BIAS = '{"logit_bias": {"<BOV>": 8}}'
ARGS = None  # set in __main__ (parse_args rewrites sys.argv for unittest)


def png_bytes(w, h):
    """A w x h RGB PNG (a colour gradient), written without any imaging library."""
    rows = b"".join(b"\x00" + bytes(v for x in range(w) for v in (x * 255 // max(w - 1, 1),
                                                                   y * 255 // max(h - 1, 1), 128))
                    for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_driver():
    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
              "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
              "--disable-extensions", "--disable-background-networking", "--disable-sync",
              "--hide-scrollbars", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, log_output=os.path.join(ARGS.work, "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_window_size(1280, 1000)
    driver.set_script_timeout(30)
    return driver


def http_error_message(url, data=None, headers=None):
    """The `error.message` of the OpenAI error body `url` answers (it must answer an error)."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        urllib.request.urlopen(req, timeout=60).read()
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        return e.code, json.loads(body)["error"]["message"]
    raise AssertionError(f"{url} answered 200, expected an error")


class PageTestCase(unittest.TestCase):
    server_extra = ()
    server = None
    driver = None

    @classmethod
    def setUpClass(cls):
        model = harness.tiny_model(ARGS, MODEL_NAME)
        cls.server = harness.ServerProcess(ARGS, model, *cls.server_extra,
                                           log_name=f"server-{cls.__name__}.log")
        cls.server.start()
        try:
            cls.driver = make_driver()
        except Exception:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.driver is not None:
            try:
                cls.driver.quit()
            except WebDriverException:
                pass
        if cls.server is not None:
            code = cls.server.stop()
            assert code in (0, None), f"server exited with {code}; log: {cls.server.log_path}"

    # ---- helpers ------------------------------------------------------------------------------

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def find(self, css, root=None):
        return (root or self.driver).find_element(By.CSS_SELECTOR, css)

    def find_all(self, css, root=None):
        return (root or self.driver).find_elements(By.CSS_SELECTOR, css)

    def state(self):
        return self.js("return document.body.dataset.state")

    def status(self):
        return self.find("#status").text

    def diagnostics(self):
        try:
            with open(self.server.log_path, errors="replace") as f:
                log = "".join(f.readlines()[-15:])
        except OSError:
            log = "(no log)"
        try:
            st, status = self.state(), self.status()
        except WebDriverException as e:
            st, status = "?", f"(page unreadable: {e.msg})"
        return f"page state={st!r} status={status!r}\nserver log tail:\n{log}"

    def wait_for(self, cond, timeout, what):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(lambda d: cond())
        except Exception as e:  # TimeoutException, or the condition kept failing
            raise AssertionError(f"timed out after {timeout} s waiting for {what} ({e!r})\n"
                                 + self.diagnostics()) from None

    def wait_idle(self, timeout):
        self.wait_for(lambda: self.state() == "idle", timeout, "the page to be idle")

    def open_page(self):
        """Loads `/` with a fresh localStorage and waits until the model list has been asked."""
        self.driver.get(self.server.url + "/")
        self.js("localStorage.clear()")
        self.driver.get(self.server.url + "/")
        self.driver.get_log("browser")  # drop earlier entries
        self.wait_idle(30)

    def set_field(self, element_id, value):
        el = self.find("#" + element_id)
        el.clear()
        if value != "":
            el.send_keys(str(value))

    def set_checked(self, element_id, on):
        el = self.find("#" + element_id)
        if el.is_selected() != on:
            el.click()
        self.assertEqual(el.is_selected(), on)

    def settings(self, **fields):
        """settings(steps=4, width=64, max_images=1, images=True, extra='{...}')"""
        if "images" in fields:
            self.set_checked("images", fields.pop("images"))
        for k, v in fields.items():
            self.set_field(k.replace("_", "-"), v)

    def send(self, prompt, enter=False):
        """Types the prompt and sends it with the Send button (or the Enter key)."""
        box = self.find("#prompt")
        box.clear()
        box.send_keys(prompt)
        if enter:
            box.send_keys(Keys.ENTER)
        else:
            self.find("#send").click()

    def assistant_messages(self):
        return self.find_all("#messages div.msg.assistant")

    def rendered_text(self, msg):
        return "".join(t.get_attribute("textContent") for t in self.find_all(".text", msg))

    def last_request(self):
        return self.js("return window.duogenLastRequest || null")

    def severe_console_entries(self, allow=()):
        out = []
        for e in self.driver.get_log("browser"):
            if e.get("level") == "SEVERE" and not any(a in e.get("message", "") for a in allow):
                out.append(e["message"])
        return out

    def metric(self, name):
        text = self.server.get("/metrics").read().decode()
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def save_screenshot(self):
        path = os.path.join(ARGS.work, "page.png")
        self.assertTrue(self.driver.save_screenshot(path), "screenshot failed")
        if os.environ.get("DUOGEN_UPDATE_DOCS") == "1":
            dest = os.path.join(REPO, "docs", "images", "server-page.png")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(path, dest)
        return path


@unittest.skipIf(SKIP_REASON, SKIP_REASON)
class WebPageTest(PageTestCase):

    def test_page_is_self_contained(self):
        resp = self.server.get("/")
        self.assertEqual(resp.status, 200)
        self.assertIn("text/html", resp.headers.get("Content-Type", ""))
        html = resp.read().decode("utf-8")
        self.assertIn('id="messages"', html)
        for bad in ("<script src", 'rel="stylesheet"', "@import", "url(http", 'src="http',
                    "src='http", 'href="http', "href='http", "//cdn", "fonts.googleapis"):
            self.assertNotIn(bad, html, f"the page must not load anything from outside ({bad})")

    def test_chat_with_image_then_follow_up(self):
        self.open_page()
        self.wait_for(lambda: self.find("#model").text == MODEL_NAME, 10, "the model id in #model")
        self.assertTrue(self.find("#images").is_selected(), "'make images' is on by default")
        self.settings(images=True, steps=4, width=64, height=64, max_images=1, max_tokens=48,
                      seed=7, extra=BOV_BIAS)
        self.send("Draw a small red fox in the snow, then tell me about it.")
        self.wait_for(lambda: self.state() == "busy" or self.assistant_messages(), 5,
                      "the request to start")
        self.wait_idle(300)

        status = self.find("#status")
        self.assertNotIn("error", status.get_attribute("class"), self.diagnostics())
        answers = self.assistant_messages()
        self.assertEqual(len(answers), 1)
        answer = answers[0]
        self.assertTrue(self.rendered_text(answer).strip(), "the answer has no rendered text\n"
                        + self.diagnostics())
        imgs = self.find_all("img.gen-image", answer)
        self.assertGreaterEqual(len(imgs), 1, "no generated image\n" + self.diagnostics())
        self.wait_for(lambda: self.js("return arguments[0].complete && arguments[0].naturalWidth",
                                      imgs[0]), 10, "the image to decode")
        self.assertEqual(self.js("return arguments[0].naturalWidth", imgs[0]), 64)
        self.assertEqual(self.js("return arguments[0].naturalHeight", imgs[0]), 64)
        self.assertTrue(imgs[0].get_attribute("src").startswith("data:image/png;base64,"))
        self.assertEqual(self.find_all("div.progress"), [], "a progress bar is left")
        usage = self.find("div.usage", answer).text
        self.assertRegex(usage, r"\d+ prompt \+ \d+ completion tokens")
        self.assertRegex(usage, r"[1-9]\d* images?")

        req = self.last_request()
        self.assertEqual(req["model"], MODEL_NAME)
        self.assertIs(req["stream"], True)
        self.assertEqual(req["stream_options"], {"include_usage": True})
        self.assertEqual(req["modalities"], ["text", "image"])
        for k, v in dict(steps=4, width=64, height=64, max_images=1, max_tokens=48, seed=7).items():
            self.assertEqual(req.get(k), v, k)
        self.assertEqual(req["logit_bias"], {"<BOV>": 8})
        self.assertNotIn("guidance", req, "empty fields are left out")
        self.assertEqual(req["messages"][-1]["role"], "user")
        self.assertEqual(self.severe_console_entries(), [])
        self.save_screenshot()

        # The follow-up carries the conversation: the answer as text and image_url parts.
        self.settings(images=False, max_tokens=8, extra="")
        self.send("Thanks! Now in one line.")
        self.wait_idle(120)
        self.assertNotIn("error", self.find("#status").get_attribute("class"), self.diagnostics())
        answers = self.assistant_messages()
        self.assertEqual(len(answers), 2)
        self.assertTrue(self.rendered_text(answers[1]).strip(), self.diagnostics())
        self.assertEqual(self.find_all("img.gen-image", answers[1]), [])
        req = self.last_request()
        self.assertEqual(req["modalities"], ["text"])
        self.assertNotIn("steps", req, "image settings are left out when images are off")
        self.assertEqual([m["role"] for m in req["messages"]], ["user", "assistant", "user"])
        parts = req["messages"][1]["content"]
        self.assertIsInstance(parts, list)
        self.assertIn("image_url", [p["type"] for p in parts])
        self.assertIn("text", [p["type"] for p in parts])
        self.assertEqual(self.severe_console_entries(), [])

    def test_stop(self):
        self.open_page()
        # 1000 steps at 512 x 512 take the tiny model tens of seconds on a CPU (200 at 256 x 256
        # can end before the click lands).
        self.settings(images=True, steps=1000, width=512, height=512, max_images=1, max_tokens=64,
                      extra=BOV_BIAS)
        self.send("Paint a detailed landscape.")
        self.wait_for(lambda: self.find_all("div.progress"), 180,
                      "a progress bar (an image being sampled)")
        label = self.find("div.progress").text
        self.assertRegex(label, r"[Ii]mage 1: step \d+/1000")
        t0 = time.time()
        self.find("#stop").click()
        self.wait_idle(5)
        self.assertLess(time.time() - t0, 5)
        self.assertIn("Stopped", self.status())
        self.assertEqual(self.find_all("div.progress"), [], "a progress bar is left")
        self.assertEqual(self.find_all("img.gen-image"), [])
        # The server cancels the job of a client that went away.
        deadline = time.time() + 30
        while self.metric("duogen_jobs_running") not in (0, None) and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.metric("duogen_jobs_running"), 0,
                         "the stopped job is still running on the server")
        self.assertTrue(self.find("#send").is_enabled())

    def test_attached_image(self):
        path = os.path.join(ARGS.work, "attach.png")
        with open(path, "wb") as f:
            f.write(png_bytes(64, 48))
        self.open_page()
        self.find("#attach").send_keys(path)
        self.wait_for(lambda: len(self.find_all("#attachments img")) == 1, 5, "the thumbnail")
        self.settings(images=False, max_tokens=8)
        self.send("What is in this picture?", enter=True)
        self.wait_idle(120)
        self.assertNotIn("error", self.find("#status").get_attribute("class"), self.diagnostics())
        self.assertEqual(self.find_all("#attachments img"), [], "thumbnails are cleared when sent")
        user = self.find("#messages div.msg.user")
        shown = self.find_all("img", user)
        self.assertEqual(len(shown), 1)
        self.assertEqual(self.js("return arguments[0].naturalWidth", shown[0]), 64)
        self.assertIn("What is in this picture?", user.text)
        self.assertTrue(self.rendered_text(self.assistant_messages()[0]).strip(), self.diagnostics())
        content = self.last_request()["messages"][0]["content"]
        images = [p for p in content if p["type"] == "image_url"]
        self.assertEqual(len(images), 1)
        self.assertTrue(images[0]["image_url"]["url"].startswith("data:image/png;base64,"))
        self.assertIn({"type": "text", "text": "What is in this picture?"}, content)
        self.assertEqual(self.severe_console_entries(), [])

    def test_invalid_setting_is_refused_before_sending(self):
        self.open_page()
        self.settings(images=True, width=65)
        self.send("A cat.")
        self.wait_for(lambda: "Width" in self.status(), 3, "the width message")
        self.assertEqual(self.state(), "idle")
        self.assertEqual(self.find_all("#messages .msg"), [])
        self.assertIn("invalid", self.find("#width").get_attribute("class"))
        self.assertEqual(self.find("#prompt").get_attribute("value"), "A cat.")
        # Shift+Enter is a new line, not a send.
        box = self.find("#prompt")
        box.send_keys(Keys.SHIFT, Keys.ENTER, Keys.NULL, "Two lines.")
        self.assertEqual(box.get_attribute("value"), "A cat.\nTwo lines.")
        self.assertEqual(self.find_all("#messages .msg"), [])

    def test_server_refusal_is_shown(self):
        self.open_page()
        self.settings(images=False, extra='{"bogus_field": 1}')
        self.send("Hello.")
        self.wait_idle(30)
        self.wait_for(lambda: "bogus_field" in self.status(), 5, "the 400 message")
        self.assertIn("400", self.status())
        self.assertIn("error", self.find("#status").get_attribute("class"))
        self.assertTrue(self.find_all("div.msg.assistant div.note.error"))
        self.assertIn("failed", self.find("div.msg.user").get_attribute("class"))
        self.assertEqual(self.find("#prompt").get_attribute("value"), "Hello.",
                         "the refused prompt is offered again")


@unittest.skipIf(SKIP_REASON, SKIP_REASON)
class ApiKeyTest(PageTestCase):
    server_extra = ("--api-key", "sesame-42")

    def test_api_key(self):
        code, models_msg = http_error_message(self.server.url + "/v1/models")
        self.assertEqual(code, 401)
        self.assertTrue(models_msg)
        body = json.dumps({"model": MODEL_NAME, "messages": [{"role": "user", "content": "hi"}],
                           "stream": True}).encode()
        code, chat_msg = http_error_message(
            self.server.url + "/v1/chat/completions", body,
            {"Content-Type": "application/json", "Authorization": "Bearer wrong-key"})
        self.assertEqual(code, 401)

        # No key: the model list is refused and the page says why.
        self.open_page()
        self.assertIn(models_msg, self.status())
        self.assertIn("401", self.status())
        self.assertIn("error", self.find("#status").get_attribute("class"))

        # The right key: the model is listed and a turn is answered.
        self.set_field("api-key", "sesame-42")
        self.find("#api-key").send_keys(Keys.TAB)
        self.wait_for(lambda: self.find("#model").text == MODEL_NAME, 10, "the model id")
        self.settings(images=False, max_tokens=6)
        self.send("Hello there.")
        self.wait_idle(120)
        self.assertNotIn("error", self.find("#status").get_attribute("class"), self.diagnostics())
        self.assertTrue(self.rendered_text(self.assistant_messages()[0]).strip())
        self.assertEqual(self.js("return localStorage.getItem('duogen.apiKey')"), "sesame-42")

        # A wrong key: the chat request's 401 message is shown, and the turn is not kept.
        self.set_field("api-key", "wrong-key")
        self.send("Hello again.")
        self.wait_idle(30)
        self.wait_for(lambda: chat_msg in self.status(), 5, "the 401 message")
        self.assertIn("401", self.status())
        self.assertIn("error", self.find("#status").get_attribute("class"))
        self.assertEqual(len(self.assistant_messages()), 2)
        self.assertTrue(self.find_all("div.note.error", self.assistant_messages()[1]))
        self.assertEqual(len(self.last_request()["messages"]), 3)
        self.assertEqual(self.js("return localStorage.getItem('duogen.apiKey')"), "wrong-key")


if __name__ == "__main__":
    ARGS = harness.parse_args()
    harness.main()
