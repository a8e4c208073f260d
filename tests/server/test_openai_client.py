"""`duogen serve` through the official `openai` Python client (docs/server.md), on the tiny model.

    .venv/bin/python tests/server/test_openai_client.py --duogen build/duogen \
        --tokenizer ../shared/models/qwen2-tokenizer --work /tmp/test_openai_client

Exit 77 (skipped) when the `openai` package is not importable.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_harness as H  # noqa: E402

try:
    import openai
except ImportError:  # the whole script is skipped (exit 77) in __main__
    openai = None

ARGS = None
SERVER = None
CLIENT = None

PROMPT = [{"role": "user", "content": "Draw a small red fox in the snow, then describe it."}]
# Small, fast image settings on the tiny model; the <BOV> bias makes the random model open images.
IMAGE_OPTS = {"steps": 4, "width": 64, "height": 64, "logit_bias": H.BOV_BIAS}


def setUpModule():
    global SERVER, CLIENT
    model = H.tiny_model(ARGS)
    SERVER = H.ServerProcess(ARGS, model, log_name="openai_client.server.log").start()
    CLIENT = openai.OpenAI(base_url=SERVER.url + "/v1", api_key="not-checked", max_retries=0,
                           timeout=120)


def tearDownModule():
    if CLIENT is not None:
        CLIENT.close()  # no idle keep-alive connection left to hold the server's exit up
    if SERVER is not None:
        rc = SERVER.stop()
        if rc not in (0, None):
            raise RuntimeError(f"server exited with {rc} on SIGTERM; log: {SERVER.log_path}")


def as_dict(x):
    """The client keeps fields it does not know (extra fields, list contents) as plain values or
    as its own models: return a plain dict/list either way."""
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    if isinstance(x, dict):
        return {k: as_dict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [as_dict(v) for v in x]
    if hasattr(x, "model_dump"):
        return x.model_dump(exclude_unset=False)
    return x


def extra(model, name):
    """An extra (non-OpenAI) field of a client model object, e.g. usage.images or chunk.progress."""
    value = getattr(model, name, None)
    if value is None and getattr(model, "model_extra", None):
        value = model.model_extra.get(name)
    return as_dict(value)


def split_parts(parts):
    """(joined text, [PNG bytes]) from a content list of text / image_url parts."""
    text, images = "", []
    for p in parts:
        p = as_dict(p)
        if p["type"] == "text":
            text += p["text"]
        elif p["type"] == "image_url":
            images.append(p["image_url"]["url"])
        else:
            raise AssertionError(f"unexpected content part type {p['type']!r}")
    return text, images


class ModelsTest(unittest.TestCase):
    def test_models_list(self):
        models = CLIENT.models.list()
        ids = [m.id for m in models.data]
        self.assertIn(SERVER.model_id, ids)
        m = models.data[ids.index(SERVER.model_id)]
        self.assertEqual(m.object, "model")
        self.assertEqual(m.owned_by, "duogen")
        self.assertIsInstance(m.created, int)


class ChatTest(unittest.TestCase):
    def test_text_only(self):
        r = CLIENT.chat.completions.create(model=SERVER.model_id, messages=PROMPT, max_tokens=8,
                                           temperature=0, seed=1)
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(r.model, SERVER.model_id)
        self.assertTrue(r.id)
        self.assertIsInstance(r.created, int)
        self.assertEqual(len(r.choices), 1)
        c = r.choices[0]
        self.assertEqual(c.index, 0)
        self.assertEqual(c.message.role, "assistant")
        self.assertIsInstance(c.message.content, str)
        self.assertIn(c.finish_reason, ("stop", "length"))
        u = r.usage
        self.assertGreater(u.prompt_tokens, 0)
        self.assertGreaterEqual(u.completion_tokens, 1)
        self.assertLessEqual(u.completion_tokens, 8)
        self.assertEqual(u.total_tokens, u.prompt_tokens + u.completion_tokens)
        self.assertEqual(extra(u, "images"), 0)
        if c.finish_reason == "length":
            self.assertEqual(u.completion_tokens, 8)

    def test_text_and_images(self):
        r = CLIENT.chat.completions.create(
            model=SERVER.model_id, messages=PROMPT, max_tokens=24, temperature=0,
            modalities=["text", "image"],
            extra_body=dict(IMAGE_OPTS, seed=7, max_images=2))
        c = r.choices[0]
        content = as_dict(c.message.content)
        self.assertIsInstance(content, list, f"content should be a list of parts: {content!r}")
        for p in content:
            self.assertIn(p["type"], ("text", "image_url"))
        _, urls = split_parts(content)
        # +10 on <BOV> makes the random model open an image at once, and again after the first.
        self.assertEqual(len(urls), 2, f"parts: {[p['type'] for p in content]}")
        for url in urls:
            self.assertTrue(url.startswith("data:image/png;base64,"), url[:40])
            img, raw = H.decode_png(url)
            self.assertEqual(img.format, "PNG")
            self.assertEqual(img.size, (64, 64))
        self.assertEqual(extra(r.usage, "images"), 2)
        self.assertIn(c.finish_reason, ("stop", "length"))
        self.assertLessEqual(r.usage.completion_tokens, 24)

    def test_size_field(self):
        r = CLIENT.chat.completions.create(
            model=SERVER.model_id, messages=PROMPT, max_tokens=3, temperature=0,
            modalities=["text", "image"],
            extra_body={"size": "64x32", "steps": 2, "max_images": 1, "logit_bias": H.BOV_BIAS,
                        "job": "sized"})
        _, urls = split_parts(as_dict(r.choices[0].message.content))
        self.assertEqual(len(urls), 1)
        img, _ = H.decode_png(urls[0])
        self.assertEqual(img.size, (64, 32), "size is WxH")
        self.assertEqual(img.text.get("job"), "sized", "the job id is in the PNG's tEXt")

    def _stream(self, **kw):
        chunks = list(CLIENT.chat.completions.create(stream=True,
                                                     stream_options={"include_usage": True}, **kw))
        self.assertTrue(chunks)
        ids = {ch.id for ch in chunks}
        self.assertEqual(len(ids), 1, "every chunk has the same id")
        self.assertEqual({ch.object for ch in chunks}, {"chat.completion.chunk"})
        self.assertEqual({ch.model for ch in chunks}, {SERVER.model_id})
        self.assertEqual(len({ch.created for ch in chunks}), 1)
        first = chunks[0]
        self.assertEqual(first.choices[0].delta.role, "assistant")
        text, images, progress, finish, usage = "", [], [], None, None
        for i, ch in enumerate(chunks):
            p = extra(ch, "progress")
            if p is not None:
                self.assertEqual(ch.choices, [], "a progress chunk has no choices")
                self.assertEqual(set(p), {"image", "step", "steps"}, p)
                progress.append((len(images), p))
                continue
            if ch.usage is not None and not ch.choices:
                self.assertIsNone(usage, "one usage chunk")
                usage = ch.usage
                self.assertEqual(i, len(chunks) - 1, "the usage chunk comes last")
                continue
            self.assertEqual(len(ch.choices), 1, ch)
            choice = ch.choices[0]
            self.assertIsNone(finish, "nothing but usage after the finish chunk")
            content = as_dict(choice.delta.content)
            if isinstance(content, list):
                _, urls = split_parts(content)
                self.assertEqual(len(urls), 1, content)
                images.extend(urls)
            elif content:
                text += content
            if choice.finish_reason is not None:
                finish = choice.finish_reason
        self.assertIn(finish, ("stop", "length"))
        self.assertIsNotNone(usage, "include_usage: a usage chunk")
        return text, images, progress, finish, usage

    def test_stream_matches_non_streamed(self):
        kw = dict(model=SERVER.model_id, messages=PROMPT, max_tokens=12, temperature=0, seed=3,
                  modalities=["text", "image"], extra_body=dict(IMAGE_OPTS, max_images=1))
        r = CLIENT.chat.completions.create(**kw)
        want_text, want_urls = split_parts(as_dict(r.choices[0].message.content))
        text, urls, progress, finish, usage = self._stream(**kw)
        self.assertEqual(text, want_text)
        self.assertEqual(len(urls), 1)
        self.assertEqual(len(want_urls), 1)
        self.assertEqual(H.decode_png(urls[0])[1], H.decode_png(want_urls[0])[1],
                         "same seed: the same PNG streamed and not")
        self.assertEqual(finish, r.choices[0].finish_reason)
        self.assertEqual(usage.prompt_tokens, r.usage.prompt_tokens)
        self.assertEqual(usage.completion_tokens, r.usage.completion_tokens)
        self.assertEqual(usage.total_tokens, r.usage.total_tokens)
        self.assertEqual(extra(usage, "images"), 1)
        # Progress: image 1, steps 4, steps counting up, all before the image chunk.
        self.assertTrue(progress, "sampling progress chunks")
        for images_before, p in progress:
            self.assertEqual(images_before, 0, "progress of image 1 comes before its image")
            self.assertEqual(p["image"], 1)
            self.assertEqual(p["steps"], 4)
            self.assertTrue(1 <= p["step"] <= 4 or p["step"] == 0, p)
        steps = [p["step"] for _, p in progress]
        self.assertEqual(steps, sorted(steps))
        self.assertEqual(steps[-1], 4)

    def test_stream_text_only(self):
        kw = dict(model=SERVER.model_id, messages=PROMPT, max_tokens=10, temperature=0, seed=5)
        r = CLIENT.chat.completions.create(**kw)
        text, urls, progress, finish, usage = self._stream(**kw)
        self.assertEqual(text, r.choices[0].message.content)
        self.assertEqual(urls, [])
        self.assertEqual(progress, [])
        self.assertEqual(usage.completion_tokens, r.usage.completion_tokens)


class ImagesTest(unittest.TestCase):
    def _check(self, resp, n, size=(64, 64)):
        self.assertIsInstance(resp.created, int)
        self.assertEqual(len(resp.data), n)
        out = []
        for d in resp.data:
            self.assertTrue(d.b64_json)
            img, raw = H.decode_png(d.b64_json)
            self.assertEqual(img.format, "PNG")
            self.assertEqual(img.size, size)
            out.append(img.convert("RGB").tobytes())
        self.assertIsNotNone(resp.usage, "usage")
        return out

    def test_generate_two(self):
        r = CLIENT.images.generate(model=SERVER.model_id, prompt="a lighthouse at dusk", n=2,
                                   size="64x64", response_format="b64_json",
                                   extra_body={"seed": 11, "steps": 4})
        pixels = self._check(r, 2)
        self.assertNotEqual(pixels[0], pixels[1], "image 2 uses seed + 1: it differs")
        # Image n uses seed + n - 1: n=1 with seed 12 is image 2 above.
        r2 = CLIENT.images.generate(model=SERVER.model_id, prompt="a lighthouse at dusk", n=1,
                                    size="64x64", response_format="b64_json",
                                    extra_body={"seed": 12, "steps": 4})
        self.assertEqual(self._check(r2, 1)[0], pixels[1])

    def test_edit_one_image(self):
        png = H.png_bytes(40, 56, (20, 120, 220))
        r = CLIENT.images.edit(model=SERVER.model_id, image=("in.png", png, "image/png"),
                               prompt="make it green", n=1, size="64x64",
                               response_format="b64_json", extra_body={"seed": 2, "steps": 2})
        self._check(r, 1)

    def test_edit_two_images(self):
        a = H.png_bytes(48, 32, (220, 20, 20))
        b = H.png_bytes(80, 64, noise=True)
        r = CLIENT.images.edit(model=SERVER.model_id,
                               image=[("a.png", a, "image/png"), ("b.png", b, "image/png")],
                               prompt="put the first on the second", n=2, size="64x64",
                               response_format="b64_json", extra_body={"seed": 4, "steps": 2})
        self._check(r, 2)


class CosmosSnapshotTest(unittest.TestCase):
    """A Cosmos-Predict2.5 diffusers snapshot served: text-to-image through the image endpoint;
    chat is refused naming the model (it writes no text)."""

    def test_images_only(self):
        snapshot = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                                "tiny-cosmos2_5")
        with H.ServerProcess(ARGS, snapshot, log_name="openai_client.cosmos.log") as server:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0,
                                   timeout=120)
            try:
                self.assertEqual([m.id for m in client.models.list().data], ["tiny-cosmos2_5"])
                r = client.images.generate(model="tiny-cosmos2_5", prompt="a blue cone", n=2,
                                           size="48x32", extra_body={"steps": 2, "seed": 5})
                a, b = [H.decode_png(d.b64_json)[0] for d in r.data]
                self.assertEqual(a.size, (48, 32))
                self.assertNotEqual(a.tobytes(), b.tobytes(), "image 2 uses seed + 1")
                with self.assertRaises(openai.BadRequestError) as e:
                    client.chat.completions.create(
                        model="tiny-cosmos2_5", messages=[{"role": "user", "content": "hi"}])
                self.assertIn("images only", str(e.exception))
                with self.assertRaises(openai.BadRequestError) as e:  # a DuoGen-only option
                    client.images.generate(model="tiny-cosmos2_5", prompt="x", size="48x32",
                                           extra_body={"solver": "euler"})
                self.assertIn("solver", str(e.exception))
            finally:
                client.close()


class AuthTest(unittest.TestCase):
    def test_api_key(self):
        with H.ServerProcess(ARGS, SERVER.model, "--api-key", "sekret-key",
                             log_name="openai_client.auth.log") as server:
            bad = openai.OpenAI(base_url=server.url + "/v1", api_key="wrong-key", max_retries=0)
            with self.assertRaises(openai.AuthenticationError):
                bad.models.list()
            with self.assertRaises(openai.AuthenticationError):
                bad.chat.completions.create(model=server.model_id, messages=PROMPT, max_tokens=2)
            good = openai.OpenAI(base_url=server.url + "/v1", api_key="sekret-key", max_retries=0)
            self.assertIn(server.model_id, [m.id for m in good.models.list().data])
            r = good.chat.completions.create(model=server.model_id, messages=PROMPT, max_tokens=2)
            self.assertIsInstance(r.choices[0].message.content, str)
            bad.close()
            good.close()


if __name__ == "__main__":
    ARGS = H.parse_args()
    if openai is None:
        print("the openai package is not installed: skipped")
        sys.exit(H.SKIP)
    H.main()
