// The Qwen2.5-VL chat template against the official Jinja template rendered by the reference
// script (qwen2_chat.jsonl), and the DuoGen BOV/EOV options.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "duogen/error.h"
#include "testing/json_lines.h"
#include "testing/test_paths.h"
#include "tokenizer/chat_request.h"
#include "tokenizer/qwen_tokenizer.h"

namespace duogen::tokenizer {
namespace {

using nlohmann::json;

TEST(ChatTemplate, MatchesTheOfficialTemplateAndHuggingFaceIds) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  const auto rows = testing::read_json_lines(testing::data_dir() / "tokenizer/qwen2_chat.jsonl");
  ASSERT_FALSE(rows.empty());
  for (const json& row : rows) {
    const ChatRequest request = parse_chat_request(row["request"], "golden");
    const RenderedPrompt prompt = ChatTemplate(*tok, request.options).render(request.messages);
    EXPECT_EQ(prompt.text, row["text"].get<std::string>()) << row["request"].dump();
    EXPECT_EQ(prompt.ids, row["ids"].get<std::vector<std::int32_t>>()) << row["request"].dump();
    // Rendering is the same as encoding the rendered text.
    EXPECT_EQ(prompt.ids, tok->encode(prompt.text)) << row["request"].dump();
  }
}

std::vector<ChatMessage> generated_image_turn(std::int64_t pads) {
  return {{"user", {{ChatItemKind::kText, "Draw a red square."}}},
          {"assistant",
           {{ChatItemKind::kText, "Here it is: "},
            {ChatItemKind::kImage, "", pads, /*generated=*/true},
            {ChatItemKind::kText, " Done."}}}};
}

// Index of the first occurrence of id in ids (ids.size() if absent).
std::size_t find_id(const std::vector<std::int32_t>& ids, std::int32_t id) {
  return static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
}

TEST(ChatTemplate, GeneratedImageStartsWithTheConfiguredBov) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  const std::int32_t vision_start = *tok->token_to_id("<|vision_start|>");
  const std::int32_t vision_end = *tok->token_to_id("<|vision_end|>");
  const std::int32_t image_pad = *tok->token_to_id("<|image_pad|>");

  ChatTemplateOptions options;  // defaults: new <BOV> token, EOV reuses <|vision_end|>
  options.add_generation_prompt = false;
  const auto prompt = ChatTemplate(*tok, options).render(generated_image_turn(3));
  const std::size_t bov = find_id(prompt.ids, options.bov.id);
  ASSERT_LT(bov + 5, prompt.ids.size());
  EXPECT_EQ(prompt.ids[bov + 1], vision_start);
  EXPECT_EQ(std::count(prompt.ids.begin(), prompt.ids.end(), image_pad), 3);
  EXPECT_EQ(prompt.ids[bov + 5], vision_end);
  EXPECT_NE(prompt.text.find(options.bov.text + "<|vision_start|>"), std::string::npos);
  EXPECT_EQ(std::count(prompt.ids.begin(), prompt.ids.end(), vision_end), 1);

  // A release that reuses <|vision_start|> as BOV and adds its own end-of-vision token.
  options.bov = {"<|vision_start|>", vision_start};
  options.eov = {"<EOV>", tok->vocab_size()};
  const auto reused = ChatTemplate(*tok, options).render(generated_image_turn(2));
  EXPECT_EQ(std::count(reused.ids.begin(), reused.ids.end(), vision_start), 1);
  const std::size_t end = find_id(reused.ids, vision_end);
  ASSERT_LT(end + 1, reused.ids.size());
  EXPECT_EQ(reused.ids[end + 1], options.eov.id);
  EXPECT_NE(reused.text.find("<|vision_end|><EOV>"), std::string::npos);
}

TEST(ChatTemplate, UserImagesDoNotUseBov) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  ChatTemplateOptions options;
  const auto prompt = ChatTemplate(*tok, options)
                          .render({{"user", {{ChatItemKind::kImage, "", 2}, {ChatItemKind::kText, "Hi"}}}});
  EXPECT_EQ(find_id(prompt.ids, options.bov.id), prompt.ids.size());
}

TEST(ChatTemplate, RejectsTokenizersWithoutQwenTokens) {
  const auto tok = BpeTokenizer::from_file(testing::data_dir() / "tokenizer/gpt2_style/tokenizer.json");
  EXPECT_THROW(ChatTemplate(*tok, ChatTemplateOptions{}), InvalidArgument);
}

TEST(ChatRequest, RejectsMalformedRequests) {
  EXPECT_THROW(parse_chat_request(json::parse(R"({"nomessages": []})"), "f"), InvalidArgument);
  EXPECT_THROW(parse_chat_request(json::parse(R"([{"content": "x"}])"), "f"), InvalidArgument);
  EXPECT_THROW(parse_chat_request(json::parse(R"([{"role": "user", "content": [{"type": "audio"}]}])"), "f"),
               InvalidArgument);
  EXPECT_THROW(
      parse_chat_request(json::parse(R"([{"role": "user", "content": [{"type": "image", "pad_tokens": 0}]}])"), "f"),
      InvalidArgument);
  EXPECT_THROW(parse_chat_request(json::parse(R"({"messages": [], "bov": {"text": "<BOV>"}})"), "f"),
               InvalidArgument);
}

}  // namespace
}  // namespace duogen::tokenizer
