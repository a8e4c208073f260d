// Parity of the byte-level BPE tokenizer with HF `tokenizers` on the project corpus: ids,
// decode, decode(encode(x)) == NFC(x) and streaming decode. Goldens: tools/reference/
// make_tokenizer_goldens.py (see docs/tokenizer.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "testing/json_lines.h"
#include "testing/test_paths.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/qwen_tokenizer.h"
#include "tokenizer/utf8.h"

namespace duogen::tokenizer {
namespace {

using nlohmann::json;
using testing::data_dir;
using testing::read_json_lines;

std::vector<std::int32_t> ids_of(const json& j) { return j.get<std::vector<std::int32_t>>(); }

// The first 80 bytes of s, cut at a character boundary, as a JSON string.
std::string excerpt(const std::string& s) {
  const std::string head = s.substr(0, 80);
  return json(head.substr(0, valid_utf8_prefix(head))).dump();
}

TEST(BpeParity, GoldensComeFromThisTokenizerFile) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  std::ifstream in(data_dir() / "tokenizer/manifest.json");
  const json manifest = json::parse(in);
  EXPECT_EQ(std::filesystem::file_size(testing::qwen_tokenizer_dir() / "tokenizer.json"),
            manifest["tokenizer_json_bytes"].get<std::uintmax_t>())
      << "the goldens were generated from a different tokenizer.json";
}

TEST(BpeParity, CorpusIdsAndDecodeMatchHuggingFace) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  const auto rows = read_json_lines(data_dir() / "tokenizer/qwen2_corpus.jsonl");
  ASSERT_GE(rows.size(), 500u);
  std::size_t id_mismatches = 0, decode_mismatches = 0;
  for (const json& row : rows) {
    const std::string text = row["text"];
    const auto expected = ids_of(row["ids"]);
    const auto ids = tok->encode(text);
    if (ids != expected) {
      ++id_mismatches;
      ADD_FAILURE() << "ids differ for " << excerpt(text) << "\n  duogen: " << json(ids).dump().substr(0, 300)
                    << "\n  HF:     " << json(expected).dump().substr(0, 300);
    }
    // The golden "decoded" is HF's decode, which the script checked equals NFC(text).
    if (tok->decode(expected) != row["decoded"].get<std::string>()) {
      ++decode_mismatches;
      ADD_FAILURE() << "decode differs for " << excerpt(text);
    }
  }
  EXPECT_EQ(id_mismatches, 0u);
  EXPECT_EQ(decode_mismatches, 0u);
}

TEST(BpeParity, ConcurrentEncodesAgree) {
  // One tokenizer shared by several threads (the word cache is shared and locked).
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  const auto rows = read_json_lines(data_dir() / "tokenizer/qwen2_corpus.jsonl");
  std::vector<std::size_t> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the corpus from a different offset so the cache fills in other orders.
      for (std::size_t k = 0; k < rows.size(); ++k) {
        const json& row = rows[(k + t * rows.size() / 4) % rows.size()];
        if (tok->encode(row["text"].get<std::string>()) != ids_of(row["ids"])) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const std::size_t m : mismatches) EXPECT_EQ(m, 0u);
}

TEST(BpeParity, StreamingDecodeEqualsDecode) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  for (const json& row : read_json_lines(data_dir() / "tokenizer/qwen2_corpus.jsonl")) {
    IncrementalDecoder stream(*tok);
    std::string text;
    for (const std::int32_t id : ids_of(row["ids"])) text += stream.push(id);
    text += stream.finish();
    EXPECT_EQ(text, row["decoded"].get<std::string>()) << excerpt(row["text"]);
  }
}

TEST(BpeParity, InvalidUtf8IsReplacedLikePython) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  const auto rows = read_json_lines(data_dir() / "tokenizer/qwen2_decode.jsonl");
  ASSERT_FALSE(rows.empty());
  for (const json& row : rows) {
    const auto ids = ids_of(row["ids"]);
    EXPECT_EQ(tok->decode(ids), row["text"].get<std::string>()) << row["ids"].dump();
    EXPECT_EQ(tok->decode(ids, /*skip_special=*/true), row["text_skip_special"].get<std::string>())
        << row["ids"].dump();
    // Streaming must end in the same text even when characters are cut between tokens.
    IncrementalDecoder stream(*tok);
    std::string streamed;
    for (const std::int32_t id : ids) streamed += stream.push(id);
    streamed += stream.finish();
    EXPECT_EQ(streamed, row["text"].get<std::string>()) << row["ids"].dump();
  }
}

TEST(BpeParity, StreamingHoldsBackIncompleteCharacters) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  // A 4-byte emoji fed as its four single-byte tokens: nothing comes out before the last one.
  const std::string emoji = "😀";
  const ByteLevelTable table;
  std::vector<std::int32_t> ids;
  for (const char b : emoji) {
    const auto id = tok->token_to_id(table.encode_byte(static_cast<std::uint8_t>(b)));
    ASSERT_TRUE(id.has_value());
    ids.push_back(*id);
  }
  IncrementalDecoder stream(*tok);
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string piece = stream.push(ids[i]);
    if (i + 1 < ids.size()) {
      EXPECT_EQ(piece, "") << "emitted a partial character at token " << i;
    }
    out += piece;
  }
  EXPECT_EQ(out, emoji);
  EXPECT_EQ(stream.finish(), "");
  // An unfinished character at the end of the stream comes out replaced, once.
  EXPECT_EQ(stream.push(ids[0]), "");
  EXPECT_EQ(stream.push(ids[1]), "");
  EXPECT_EQ(stream.finish(), tok->decode({ids[0], ids[1]}));
}

TEST(BpeParity, Gpt2StyleTokenizerMatchesHuggingFace) {
  // A small tokenizer with the GPT-2 shape: ByteLevel regex with prefix space, "a b" merges,
  // NFKC, a BOS/EOS template and lstrip/rstrip/single_word/normalized added tokens.
  const auto tok = BpeTokenizer::from_file(data_dir() / "tokenizer/gpt2_style/tokenizer.json");
  const auto rows = read_json_lines(data_dir() / "tokenizer/gpt2_style.jsonl");
  ASSERT_FALSE(rows.empty());
  for (const json& row : rows) {
    const std::string text = row["text"];
    EXPECT_EQ(tok->encode(text), ids_of(row["ids"])) << excerpt(text);
    EXPECT_EQ(tok->encode(text, /*add_special=*/true), ids_of(row["ids_with_special"])) << excerpt(text);
    EXPECT_EQ(tok->decode(ids_of(row["ids"])), row["decoded"].get<std::string>()) << excerpt(text);
  }
}

TEST(BpeParity, SplitBehaviorsMatchHuggingFace) {
  // Every HF Split behaviour, plain and inverted, with a regex and a literal pattern.
  json base;
  {
    std::ifstream in(data_dir() / "tokenizer/gpt2_style/tokenizer.json");
    base = json::parse(in);
  }
  const auto dir = testing::make_temp_dir("split");
  std::string current;
  std::unique_ptr<BpeTokenizer> tok;
  std::size_t checked = 0;
  for (const json& row : read_json_lines(data_dir() / "tokenizer/split_behaviors.jsonl")) {
    if (row["pre_tokenizer"].dump() != current) {
      current = row["pre_tokenizer"].dump();
      json patched = base;
      patched["pre_tokenizer"] = row["pre_tokenizer"];
      std::ofstream(dir / "tokenizer.json") << patched.dump();
      tok = BpeTokenizer::from_file(dir / "tokenizer.json");
    }
    EXPECT_EQ(tok->encode(row["text"].get<std::string>()), ids_of(row["ids"]))
        << current << " on " << row["text"].dump();
    ++checked;
  }
  EXPECT_GE(checked, 100u);
  std::filesystem::remove_all(dir);
}

TEST(BpeParity, ModelOptionsMatchHuggingFace) {
  // ignore_merges with whole words the merges cannot reach, unk_token with and without fuse_unk.
  std::map<std::string, std::unique_ptr<BpeTokenizer>> tokenizers;
  const auto rows = read_json_lines(data_dir() / "tokenizer/bpe_options.jsonl");
  ASSERT_FALSE(rows.empty());
  for (const json& row : rows) {
    const std::string file = row["file"];
    auto& tok = tokenizers[file];
    if (!tok) tok = BpeTokenizer::from_file(data_dir() / "tokenizer" / file);
    EXPECT_EQ(tok->encode(row["text"].get<std::string>()), ids_of(row["ids"]))
        << file << " on " << row["text"].dump();
  }
  EXPECT_EQ(tokenizers.size(), 4u);
}

TEST(BpeTokenizer, RejectsInvalidUtf8Input) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  EXPECT_THROW(tok->encode("ok \xC3\x28 bad"), duogen::InvalidArgument);
}

TEST(BpeTokenizer, VocabularyQueries) {
  DUOGEN_REQUIRE_QWEN_TOKENIZER(tok);
  const auto id = tok->token_to_id("<|vision_start|>");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(tok->id_to_token(*id), "<|vision_start|>");
  EXPECT_TRUE(tok->is_special(*id));
  EXPECT_FALSE(tok->is_special(tok->encode("hello").front()));
  EXPECT_EQ(tok->encode("<|vision_start|>"), std::vector<std::int32_t>{*id});
  const auto specials = tok->special_ids();
  EXPECT_TRUE(std::is_sorted(specials.begin(), specials.end()));
  EXPECT_GT(tok->vocab_size(), specials.back());
}

}  // namespace
}  // namespace duogen::tokenizer
