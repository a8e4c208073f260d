// SentencePiece behind the Tokenizer interface, on models trained here with the
// sentencepiece trainer: ids and text must agree with SentencePieceProcessor called directly.
#include "tokenizer/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>

#include "duogen/error.h"
#include "testing/json_lines.h"
#include "testing/test_paths.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/load_tokenizer.h"

namespace duogen::tokenizer {
namespace {

// Lines of the parity corpus (many scripts, emoji, digits, code) without line breaks, which
// the trainer treats as sentence separators.
std::vector<std::string> corpus_lines() {
  std::vector<std::string> lines;
  for (const auto& row : testing::read_json_lines(testing::data_dir() / "tokenizer/qwen2_corpus.jsonl")) {
    std::string text = row["text"];
    if (text.empty() || text.size() > 2000) continue;
    if (text.find_first_of("\r\n") != std::string::npos || text.find('\0') != std::string::npos) continue;
    lines.push_back(text);
  }
  return lines;
}

class SentencePieceTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("spm");
    ASSERT_FALSE(dir_.empty());
    lines_ = corpus_lines();
    {
      std::ofstream out(dir_ / "corpus.txt", std::ios::binary);
      for (const auto& line : lines_) out << line << "\n";
    }
    // Identity normalization and kept whitespace make decode(encode(x)) == x exact; byte
    // fallback covers characters the small vocabulary lacks.
    const std::string args = std::string("--input=") + (dir_ / "corpus.txt").string() +
                             " --model_prefix=" + (dir_ / "tokenizer").string() +
                             " --model_type=" + GetParam() +
                             " --vocab_size=2000 --byte_fallback=true --character_coverage=0.98"
                             " --normalization_rule_name=identity --remove_extra_whitespaces=false"
                             " --hard_vocab_limit=false --minloglevel=2";
    const auto status = sentencepiece::SentencePieceTrainer::Train(args);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_TRUE(reference_.Load((dir_ / "tokenizer.model").string()).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::vector<std::string> lines_;
  sentencepiece::SentencePieceProcessor reference_;
};

TEST_P(SentencePieceTest, AgreesWithTheProcessorAndRoundTrips) {
  const auto tok = load_tokenizer(dir_);  // picks tokenizer.model: there is no tokenizer.json
  ASSERT_NE(dynamic_cast<const SentencePieceTokenizer*>(tok.get()), nullptr);
  ASSERT_GT(lines_.size(), 100u);
  for (const auto& line : lines_) {
    const auto ids = tok->encode(line);
    const auto expected = reference_.EncodeAsIds(line);
    EXPECT_EQ(ids, std::vector<std::int32_t>(expected.begin(), expected.end())) << line;
    EXPECT_EQ(tok->decode(ids), reference_.DecodeIds(expected)) << line;
    EXPECT_EQ(tok->decode(ids), line);
    IncrementalDecoder stream(*tok);
    std::string streamed;
    for (const std::int32_t id : ids) streamed += stream.push(id);
    streamed += stream.finish();
    EXPECT_EQ(streamed, line);
  }
}

TEST_P(SentencePieceTest, SpecialTokens) {
  const auto tok = load_tokenizer(dir_ / "tokenizer.model");
  const int bos = reference_.bos_id(), eos = reference_.eos_id();
  ASSERT_GE(bos, 0);
  ASSERT_GE(eos, 0);
  const auto plain = tok->encode("hello world");
  auto with_bos = tok->encode("hello world", /*add_special=*/true);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), bos);
  with_bos.erase(with_bos.begin());
  EXPECT_EQ(with_bos, plain);
  // Control symbols written in the text are recognised, decoded as text unless skipped.
  const auto ids = tok->encode("hello</s>");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), eos);
  EXPECT_TRUE(tok->is_special(eos));
  EXPECT_EQ(tok->decode(ids), "hello</s>");
  EXPECT_EQ(tok->decode(ids, /*skip_special=*/true), "hello");
  EXPECT_EQ(tok->token_to_id("</s>"), eos);
  EXPECT_EQ(tok->id_to_token(eos), "</s>");
  EXPECT_FALSE(tok->token_to_id("no such piece at all").has_value());
  EXPECT_EQ(tok->vocab_size(), reference_.GetPieceSize());
}

INSTANTIATE_TEST_SUITE_P(ModelTypes, SentencePieceTest, ::testing::Values("unigram", "bpe"));

TEST(SentencePiece, MissingOrBadModelFile) {
  const auto dir = testing::make_temp_dir("spm-bad");
  EXPECT_THROW(SentencePieceTokenizer(dir / "absent.model"), duogen::IoError);
  std::ofstream(dir / "tokenizer.model") << "not a model";
  EXPECT_THROW(SentencePieceTokenizer(dir / "tokenizer.model"), duogen::FormatError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace duogen::tokenizer
