// The decoding loop's orchestration, with a scripted conversation model and a recording image
// model: order of outputs, contexts, negative boundaries, condition frames, seeds and limits.
// (The models themselves are tested against their references elsewhere; the end-to-end test on
// the tiny checkpoint runs this loop with the real ones.)
#include "pipeline/interleaved.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "pipeline/fake_models.h"

namespace duogen::pipeline {
namespace {

using namespace fakes;

InterleavedSettings settings() {
  InterleavedSettings s;
  s.bov_token_id = kBov;
  s.stop_token_ids = {kEos};
  s.max_new_tokens = 50;
  s.max_images = 4;
  s.seed = 40;
  s.image.width = 32;
  s.image.height = 16;
  s.image.steps = 3;
  return s;
}

Job job() {
  Job j;
  j.id = "j";
  ContentPart part;
  part.text = "hi";
  Message message;
  message.role = "user";
  message.content.push_back(part);
  j.messages.push_back(message);
  return j;
}

TEST(Interleaved, TextAndImagesComeOutInOrderWithTheRightContexts) {
  ScriptedConversation mllm({0, 1, kBov, 2, kBov, 3, kEos, 4});
  RecordingImageModel images;
  std::string streamed;
  std::vector<std::size_t> shown;
  std::int64_t progress_calls = 0, steps = 0;
  const JobResult r = run_interleaved(
      mllm, images, job(), settings(),
      {[&](std::string_view piece) { streamed += piece; },
       [&](std::size_t index, const OutputSegment& s) {
         EXPECT_EQ(s.kind, OutputSegment::Kind::kImage);
         shown.push_back(index);
       },
       [&](std::int64_t, std::int64_t) { ++progress_calls; }, [&] { ++steps; }});
  EXPECT_EQ(steps, 7);  // one poll before each decoding step: 0 1 <BOV> 2 <BOV> 3 <eos>
  // Segments: "ab", image 1, "c", image 2, "d"; eos stops before token 4.
  ASSERT_EQ(r.segments.size(), 5u);
  EXPECT_EQ(r.segments[0].text, "ab");
  EXPECT_EQ(r.segments[1].kind, OutputSegment::Kind::kImage);
  EXPECT_EQ(r.segments[2].text, "c");
  EXPECT_EQ(r.segments[3].kind, OutputSegment::Kind::kImage);
  EXPECT_EQ(r.segments[4].text, "d");
  EXPECT_EQ(streamed, "abcd");
  EXPECT_EQ(shown, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(progress_calls, 6);
  EXPECT_EQ(r.stop_reason, "stop_token");
  EXPECT_EQ(r.prompt_tokens, kPrompt);
  EXPECT_EQ(r.generated_tokens, 7);
  ASSERT_EQ(images.requests.size(), 2u);
  // Image 1: <BOV> at 12 (prompt 10 + "a", "b"); the context is [0, 12); the negative context
  // ends after the user's image (its <|vision_end|> at 6); conditions: the user image.
  EXPECT_EQ(images.requests[0].context.size(1), 12);
  EXPECT_EQ(images.requests[0].context[0][11][0].item<float>(), 11.0f);
  EXPECT_EQ(images.requests[0].negative_length, 7);
  EXPECT_EQ(images.requests[0].condition_images.size(), 1u);
  EXPECT_EQ(images.requests[0].seed, 40u);
  // Image 2: after image 1 (5 tokens, 13..17) and "c" at 18, <BOV> at 19; the negative context
  // now ends after image 1; conditions: the user image, then image 1.
  EXPECT_EQ(images.requests[1].context.size(1), 19);
  EXPECT_EQ(images.requests[1].negative_length, 18);
  ASSERT_EQ(images.requests[1].condition_images.size(), 2u);
  EXPECT_TRUE(at::equal(images.requests[1].condition_images[1], mllm.appended[0]));
  EXPECT_EQ(images.requests[1].seed, 41u);
  EXPECT_EQ(mllm.appended.size(), 2u);
  EXPECT_EQ(r.segments[3].image_params[2], (std::pair<std::string, std::string>{"seed", "41"}));
}

TEST(Interleaved, BovIsSuppressedAfterMaxImagesAndTokenLimitStops) {
  ScriptedConversation mllm({kBov, 0, kBov, 1, 2, 3, 4, 5});
  RecordingImageModel images;
  InterleavedSettings s = settings();
  s.max_images = 1;
  s.max_new_tokens = 5;
  const JobResult r = run_interleaved(mllm, images, job(), s);
  EXPECT_EQ(images.requests.size(), 1u);
  ASSERT_EQ(r.segments.size(), 2u);
  EXPECT_EQ(r.segments[0].kind, OutputSegment::Kind::kImage);
  EXPECT_EQ(r.segments[1].text, std::string("a") + static_cast<char>('a' + kNotBov) + "bc");
  EXPECT_EQ(r.stop_reason, "max_new_tokens");
  EXPECT_EQ(r.generated_tokens, 5);
}

TEST(Interleaved, ZeroContextRuleAndTextOnlyJobs) {
  ScriptedConversation mllm({kBov, kEos});
  RecordingImageModel images;
  InterleavedSettings s = settings();
  s.cfg_negative = CfgNegative::kZeroContext;
  run_interleaved(mllm, images, job(), s);
  ASSERT_EQ(images.requests.size(), 1u);
  EXPECT_TRUE(images.requests[0].zero_negative);
  EXPECT_EQ(images.requests[0].negative_length, images.requests[0].context.size(1));

  ScriptedConversation text_only({kBov, kEos});
  RecordingImageModel none;
  s.max_images = 0;
  const JobResult r = run_interleaved(text_only, none, job(), s);
  EXPECT_TRUE(none.requests.empty());
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0].text, std::string(1, static_cast<char>('a' + kNotBov)));
}

TEST(Interleaved, ImageOnlyForcesBovAndStopsAfterTheImage) {
  ScriptedConversation mllm({0, 1, kEos});  // the script is never sampled
  RecordingImageModel images;
  InterleavedSettings s = settings();
  s.image_only = true;
  const JobResult r = run_interleaved(mllm, images, job(), s);
  EXPECT_EQ(mllm.forced, (std::vector<std::int64_t>{kBov}));
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0].kind, OutputSegment::Kind::kImage);
  EXPECT_EQ(images.requests.at(0).context.size(1), kPrompt);  // everything before <BOV>
  EXPECT_EQ(r.stop_reason, "image_only");
}

}  // namespace
}  // namespace duogen::pipeline
