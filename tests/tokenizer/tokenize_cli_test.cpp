// `duogen tokenize` run as a process: JSON Lines in and out, --decode, --chat, exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/json_lines.h"
#include "testing/test_paths.h"
#include "tokenizer/qwen_tokenizer.h"

namespace duogen {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct RunResult {
  int exit_code;
  std::string out;
  std::string err;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// p in single quotes for the shell (test paths hold no quotes).
std::string quoted(const fs::path& p) {
  std::string s(1, '\'');
  s.append(p.string());
  s.push_back('\'');
  return s;
}

// Runs the duogen binary with args, stdin from a file holding input.
RunResult run_duogen(const std::string& args, const std::string& input) {
  const fs::path dir = testing::make_temp_dir("cli");
  {
    std::ofstream(dir / "in", std::ios::binary) << input;
  }
  const std::string cmd = quoted(testing::duogen_binary()) + " " + args + " < " + quoted(dir / "in") +
                          " > " + quoted(dir / "out") + " 2> " + quoted(dir / "err");
  const int status = std::system(cmd.c_str());
  RunResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir / "out"), read_file(dir / "err")};
  fs::remove_all(dir);
  return r;
}

std::vector<json> parse_lines(const std::string& text) {
  std::vector<json> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  return rows;
}

const fs::path kGpt2Style = testing::data_dir() / "tokenizer/gpt2_style";

TEST(TokenizeCli, EncodesAndDecodesJsonLinesInOrder) {
  const auto golden = testing::read_json_lines(testing::data_dir() / "tokenizer/gpt2_style.jsonl");
  std::string encode_in, decode_in;
  for (const json& row : golden) {
    encode_in += json{{"text", row["text"]}}.dump() + "\n";
    decode_in += json{{"ids", row["ids"]}}.dump() + "\r\n";  // CRLF lines are accepted too
  }
  const RunResult enc = run_duogen("tokenize --tokenizer " + quoted(kGpt2Style), encode_in);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  const auto enc_rows = parse_lines(enc.out);
  ASSERT_EQ(enc_rows.size(), golden.size());
  for (std::size_t i = 0; i < golden.size(); ++i) EXPECT_EQ(enc_rows[i]["ids"], golden[i]["ids"]) << i;

  const RunResult dec = run_duogen("tokenize --decode --tokenizer " + quoted(kGpt2Style), decode_in);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  const auto dec_rows = parse_lines(dec.out);
  ASSERT_EQ(dec_rows.size(), golden.size());
  for (std::size_t i = 0; i < golden.size(); ++i) EXPECT_EQ(dec_rows[i]["text"], golden[i]["decoded"]) << i;

  const RunResult special =
      run_duogen("tokenize --add-special --tokenizer " + quoted(kGpt2Style), encode_in);
  ASSERT_EQ(special.exit_code, 0) << special.err;
  EXPECT_EQ(parse_lines(special.out).front()["ids"], golden.front()["ids_with_special"]);
}

TEST(TokenizeCli, MalformedLinesNameTheLineAndExitOne) {
  const std::string good = R"({"text": "ok"})";
  for (const std::string& bad : {std::string("not json"), std::string(R"({"txt": "x"})"),
                                 std::string(R"({"text": 5})"), std::string("[1, 2]")}) {
    const RunResult r =
        run_duogen("tokenize --tokenizer " + quoted(kGpt2Style), good + "\n" + good + "\n" + bad + "\n");
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
    EXPECT_EQ(parse_lines(r.out).size(), 2u);  // the lines before the bad one were written
  }
  const RunResult r = run_duogen("tokenize --decode --tokenizer " + quoted(kGpt2Style),
                                 "{\"ids\": [1, \"x\"]}\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 1"), std::string::npos) << r.err;
}

TEST(TokenizeCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_duogen("tokenize", "").exit_code, 2);  // --tokenizer is required
  EXPECT_EQ(run_duogen("tokenize --tokenizer x --decode --chat y", "").exit_code, 2);
  EXPECT_EQ(run_duogen("tokenize --tokenizer /no/such/dir", "").exit_code, 1);
}

TEST(TokenizeCli, ChatFileRendersThroughTheTemplate) {
  if (!fs::exists(testing::qwen_tokenizer_dir() / "tokenizer.json")) {
    GTEST_SKIP() << "no tokenizer.json in " << testing::qwen_tokenizer_dir();
  }
  const auto golden = testing::read_json_lines(testing::data_dir() / "tokenizer/qwen2_chat.jsonl");
  const fs::path dir = testing::make_temp_dir("chat");
  // Two prompts are enough here (each run loads the 11 MB file); chat_template_test covers all.
  ASSERT_GE(golden.size(), 4u);
  for (const json& row : {golden[0], golden[3]}) {
    std::ofstream(dir / "prompt.json") << row["request"].dump();
    const RunResult r = run_duogen("tokenize --tokenizer " + quoted(testing::qwen_tokenizer_dir()) +
                                       " --chat " + quoted(dir / "prompt.json"),
                                   "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["ids"], row["ids"]);
    EXPECT_EQ(out["text"], row["text"]);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace duogen
