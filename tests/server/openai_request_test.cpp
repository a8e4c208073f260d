// OpenAI request bodies -> jobs: fields mapped onto job options, and every refusal naming its
// field with the status docs/server.md gives it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api_error.h"
#include "openai_request.h"
#include "testing/test_paths.h"

namespace duogen::server {
namespace {

namespace fs = std::filesystem;

RequestLimits limits() {
  RequestLimits l;
  l.model_id = "tiny";
  l.max_tokens = 100;
  l.default_max_tokens = 64;
  l.max_input_images = 2;
  return l;
}

// A 2x1 PNG, as a data URL.
const char* kPngUrl =
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAAD0lEQVR4nGP4z8DAwMAAAA/"
    "+Af+2HAXKAAAAAElFTkSuQmCC";

fs::path any_png() {
  for (const auto& entry : fs::recursive_directory_iterator(duogen::testing::data_dir() / "images")) {
    if (entry.path().extension() == ".png") return entry.path();
  }
  ADD_FAILURE() << "no PNG under tests/data/images";
  return {};
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ApiError error_of(const std::string& body, const RequestLimits& l = limits()) {
  try {
    parse_chat_request(body, l);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "");
}

TEST(ChatRequest, FieldsBecomeJobOptions) {
  const ChatRequest r = parse_chat_request(
      R"({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream": true,
          "stream_options": {"include_usage": true}, "max_tokens": 20, "seed": 4, "steps": 3,
          "guidance": 2.5, "size": "64x32", "modalities": ["text", "image"], "max_images": 2,
          "temperature": 0.5, "top_p": 0.9, "top_k": 7, "min_p": 0.1,
          "repetition_penalty": 1.1, "solver": "euler", "schedule": "karras",
          "logit_bias": {"<BOV>": 3}, "job": "mine", "user": "u1"})",
      limits());
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.images);
  EXPECT_EQ(r.user, "u1");
  EXPECT_EQ(r.job.id, "mine");
  const JobOptions& o = r.job.options;
  EXPECT_EQ(o.max_new_tokens, 20);
  EXPECT_EQ(o.seed, 4u);
  EXPECT_EQ(o.steps, 3);
  EXPECT_EQ(o.guidance, 2.5);
  EXPECT_EQ(o.width, 64);
  EXPECT_EQ(o.height, 32);
  EXPECT_EQ(o.max_images, 2);
  EXPECT_EQ(o.temperature, 0.5);
  EXPECT_EQ(o.top_k, 7);
  EXPECT_EQ(o.solver, "euler");
  EXPECT_EQ(o.schedule, "karras");
  ASSERT_EQ(o.logit_bias.size(), 1u);
  EXPECT_EQ(o.logit_bias[0].first, "<BOV>");
  ASSERT_EQ(r.job.messages.size(), 1u);
  EXPECT_EQ(r.job.messages[0].content[0].text, "hi");
}

TEST(ChatRequest, TextOnlyByDefaultWithTheModelsTokenLimit) {
  const ChatRequest r = parse_chat_request(
      R"({"model": "tiny", "messages": [{"role": "user", "content": [
          {"type": "text", "text": "what is it?"},
          {"type": "image_url", "image_url": {"url": ")" + std::string(kPngUrl) + R"("}}]}]})",
      limits());
  EXPECT_FALSE(r.images);
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.job.options.max_images, 0);
  EXPECT_EQ(r.job.options.max_new_tokens, 64);
  EXPECT_EQ(r.job.id, "chat");
  ASSERT_EQ(r.job.messages[0].content.size(), 2u);
  EXPECT_EQ(r.job.messages[0].content[1].kind, ContentPart::Kind::kImage);
  EXPECT_FALSE(r.job.messages[0].content[1].image_bytes.empty());
}

TEST(ChatRequest, RefusalsNameTheField) {
  struct Case {
    std::string body;
    int status;
    std::string param;
  };
  const std::string msgs = R"("messages": [{"role": "user", "content": "hi"}])";
  const std::vector<Case> cases = {
      {"{not json", 400, ""},
      {"[1, 2]", 400, ""},
      {R"({"messages": [{"role": "user", "content": "hi"}]})", 400, "model"},
      {R"({"model": "other", )" + msgs + "}", 404, "model"},
      {R"({"model": "tiny"})", 400, "messages"},
      {R"({"model": "tiny", "messages": 5})", 400, "messages"},
      {R"({"model": "tiny", )" + msgs + R"(, "seed": "x"})", 400, "seed"},
      {R"({"model": "tiny", )" + msgs + R"(, "steps": -1})", 400, "steps"},
      {R"({"model": "tiny", )" + msgs + R"(, "width": 40})", 400, "width"},
      {R"({"model": "tiny", )" + msgs + R"(, "frequency_penalty": 1})", 400, "frequency_penalty"},
      {R"({"model": "tiny", )" + msgs + R"(, "max_tokens": 101})", 400, "max_tokens"},
      {R"({"model": "tiny", )" + msgs + R"(, "max_tokens": 0})", 400, "max_tokens"},
      {R"({"model": "tiny", )" + msgs + R"(, "n": 2})", 400, "n"},
      {R"({"model": "tiny", )" + msgs + R"(, "modalities": ["image"]})", 400, "modalities"},
      {R"({"model": "tiny", )" + msgs + R"(, "max_images": 2})", 400, "max_images"},
      {R"({"model": "tiny", )" + msgs + R"(, "size": "64by64"})", 400, "size"},
      {R"({"model": "tiny", )" + msgs + R"(, "stream_options": {"include_usage": true}})", 400,
       "stream_options"},
      {R"({"model": "tiny", )" + msgs + R"(, "job": "../x"})", 400, "job"},
      {R"({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url",
          "image_url": {"url": "data:image/png;base64,@@@"}}]}]})",
       400, "messages[0].content[0].image_url.url"},
      {R"({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url",
          "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]})",
       400, "messages[0].content[0]"},
      {R"({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url",
          "image_url": {"url": "https://example.com/a.png"}}]}]})",
       400, "messages[0].content[0].image_url.url"},
      {R"({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "audio"}]}]})", 400,
       "messages[0].content[0].type"},
      {R"({"model": "tiny", "messages": [{"role": "robot", "content": "hi"}]})", 400,
       "messages[0].role"},
  };
  for (const auto& c : cases) {
    const ApiError e = error_of(c.body);
    EXPECT_EQ(e.status(), c.status) << c.body << ": " << e.what();
    EXPECT_EQ(e.param(), c.param) << c.body << ": " << e.what();
    EXPECT_FALSE(std::string(e.what()).empty());
  }
  // The error JSON is OpenAI's.
  const ApiError e = error_of(R"({"model": "other", )" + msgs + "}");
  EXPECT_EQ(e.json(),
            std::string(R"({"error":{"code":"model_not_found","message":")") + e.what() +
                R"(","param":"model","type":"not_found_error"}})");
}

TEST(ChatRequest, ImageLimitsAre413) {
  const std::string part =
      R"({"type": "image_url", "image_url": {"url": ")" + std::string(kPngUrl) + R"("}})";
  const std::string three = R"({"model": "tiny", "messages": [{"role": "user", "content": [)" +
                            part + "," + part + "," + part + "]}]}";
  EXPECT_EQ(error_of(three).status(), 413);
  RequestLimits small = limits();
  small.max_image_pixels = 1;  // the 2x1 image is over it
  const std::string one =
      R"({"model": "tiny", "messages": [{"role": "user", "content": [)" + part + "]}]}";
  const ApiError e = error_of(one, small);
  EXPECT_EQ(e.status(), 413);
  EXPECT_EQ(e.param(), "messages[0].content[0]");
}

TEST(ChatRequest, FileImagesOnlyFromAllowedDirectories) {
  const fs::path png = any_png();
  const fs::path dir = png.parent_path();
  const std::string body = R"({"model": "tiny", "messages": [{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": "file://)" + png.string() + R"("}}]}]})";
  EXPECT_EQ(error_of(body).param(), "messages[0].content[0].image_url.url");
  RequestLimits allowed = limits();
  allowed.allow_paths = {fs::canonical(dir)};
  const ChatRequest r = parse_chat_request(body, allowed);
  EXPECT_EQ(r.job.messages[0].content[0].image_path, fs::canonical(png));
  // A path that climbs out of the allowed directory is refused.
  const std::string escape = R"({"model": "tiny", "messages": [{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": ")" + (dir / ".." / ".." / "CMakeLists.txt").string() +
                             R"("}}]}]})";
  EXPECT_EQ(error_of(escape, allowed).status(), 400);
}

TEST(ImageRequests, GenerationsAndEdits) {
  const ImagesRequest g = parse_image_generation(
      R"({"prompt": "a cat", "n": 3, "size": "32x48", "seed": 9, "response_format": "b64_json"})",
      limits());
  EXPECT_EQ(g.n, 3);
  EXPECT_TRUE(g.seed_given);
  EXPECT_EQ(g.seed, 9u);
  EXPECT_EQ(g.job.options.width, 32);
  EXPECT_EQ(g.job.options.height, 48);
  for (const auto& [body, param] : std::vector<std::pair<std::string, std::string>>{
           {R"({"prompt": "a cat", "n": 5})", "n"},
           {R"({"prompt": ""})", "prompt"},
           {R"({"n": 1})", "prompt"},
           {R"({"prompt": "a", "response_format": "url"})", "response_format"},
           {R"({"prompt": "a", "quality": "hd"})", "quality"},
           {R"({"prompt": "a", "max_images": 2})", "max_images"}}) {
    try {
      parse_image_generation(body, limits());
      ADD_FAILURE() << "accepted: " << body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400) << body;
      EXPECT_EQ(e.param(), param) << body;
    }
  }
  EditForm form;
  form.fields = {{"prompt", "make it blue"}, {"n", "2"}, {"steps", "4"}, {"guidance", "3.5"}};
  try {
    parse_image_edit(form, limits());
    ADD_FAILURE() << "an edit without images was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param(), "image");
  }
  form.fields.emplace("steps", "5");
  try {
    parse_image_edit(form, limits());
    ADD_FAILURE() << "a field given twice was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param(), "steps");
  }
  form.images = {{"a.png", read_bytes(any_png())}, {"b.png", read_bytes(any_png())}};
  form.fields.erase("steps");
  const ImagesRequest edit = parse_image_edit(form, limits());
  EXPECT_EQ(edit.n, 2);
  EXPECT_FALSE(edit.seed_given);
  EXPECT_EQ(edit.job.options.guidance, 3.5);
  ASSERT_EQ(edit.job.messages[0].content.size(), 3u);  // the references, then the instruction
  EXPECT_EQ(edit.job.messages[0].content[0].kind, ContentPart::Kind::kImage);
  EXPECT_EQ(edit.job.messages[0].content[2].text, "make it blue");
  form.images.push_back(form.images[0]);  // 3 > max_input_images
  try {
    parse_image_edit(form, limits());
    ADD_FAILURE() << "3 images accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 413);
  }
  EditForm bad;
  bad.fields = {{"prompt", "x"}, {"steps", "four"}};
  bad.images = {{"a.png", "not a png"}};
  try {
    parse_image_edit(bad, limits());
    ADD_FAILURE() << "steps=four accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param(), "steps");
  }
  bad.fields = {{"prompt", "x"}};
  try {
    parse_image_edit(bad, limits());
    ADD_FAILURE() << "a broken image accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "image[0]");
  }
}

}  // namespace
}  // namespace duogen::server
