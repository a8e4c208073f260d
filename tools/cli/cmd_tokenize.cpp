// duogen tokenize --tokenizer DIR: JSON Lines on stdin, one output line per input line.
//   default   {"text": "..."} -> {"ids": [...]}
//   --decode  {"ids": [...]}  -> {"text": "..."}   (invalid UTF-8 replaced by U+FFFD)
//   --chat F  renders the chat prompt file F through the Qwen2.5-VL template and prints
//             {"text": "...", "ids": [...]}; stdin is not read.
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "core/check.h"
#include "tokenizer/chat_request.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/load_tokenizer.h"

namespace duogen::cli {
namespace {

using nlohmann::json;

struct TokenizeOptions {
  std::string tokenizer_dir;
  std::string chat_file;
  bool decode = false;
  bool add_special = false;
  bool skip_special = false;
};

json process_line(const tokenizer::Tokenizer& tok, const TokenizeOptions& o, const std::string& line,
                  std::size_t line_number) {
  const json in = json::parse(line, nullptr, /*allow_exceptions=*/false);
  DUOGEN_CHECK(!in.is_discarded() && in.is_object(), InvalidArgument,
               "stdin line {}: not a JSON object", line_number);
  if (!o.decode) {
    DUOGEN_CHECK(in.contains("text") && in["text"].is_string(), InvalidArgument,
                 "stdin line {}: expected {{\"text\": string}}", line_number);
    return {{"ids", tok.encode(in["text"].get<std::string>(), o.add_special)}};
  }
  DUOGEN_CHECK(in.contains("ids") && in["ids"].is_array(), InvalidArgument,
               "stdin line {}: expected {{\"ids\": [integers]}}", line_number);
  std::vector<std::int32_t> ids;
  for (const json& id : in["ids"]) {
    DUOGEN_CHECK(id.is_number_integer(), InvalidArgument, "stdin line {}: id {} is not an integer",
                 line_number, id.dump());
    ids.push_back(id.get<std::int32_t>());
  }
  return {{"text", tok.decode(ids, o.skip_special)}};
}

void run_chat(const tokenizer::Tokenizer& tok, const std::string& path) {
  std::ifstream in(path);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open chat prompt file", path);
  const json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  DUOGEN_CHECK(!j.is_discarded(), InvalidArgument, "{}: not valid JSON", path);
  const auto request = tokenizer::parse_chat_request(j, path);
  const tokenizer::ChatTemplate chat(tok, request.options);
  const auto prompt = chat.render(request.messages);
  std::cout << json{{"text", prompt.text}, {"ids", prompt.ids}}.dump() << "\n";
}

void run(const TokenizeOptions& o) {
  const auto tok = tokenizer::load_tokenizer(o.tokenizer_dir);
  if (!o.chat_file.empty()) {
    run_chat(*tok, o.chat_file);
    return;
  }
  std::string line;
  for (std::size_t n = 1; std::getline(std::cin, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF input
    std::cout << process_line(*tok, o, line, n).dump() << "\n";
  }
  std::cout.flush();
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Encode/decode JSON Lines or render a chat prompt");
  auto o = std::make_shared<TokenizeOptions>();
  cmd->add_option("--tokenizer", o->tokenizer_dir,
                  "model directory with tokenizer.json or tokenizer.model (or the file itself)")
      ->required();
  auto* decode = cmd->add_flag("--decode", o->decode, "read {\"ids\"} lines and write {\"text\"}");
  cmd->add_option("--chat", o->chat_file, "render this chat prompt JSON file and print its ids")
      ->excludes(decode);
  cmd->add_flag("--add-special", o->add_special,
                "add the post-processor's BOS/EOS tokens when encoding");
  cmd->add_flag("--skip-special", o->skip_special, "leave special tokens out when decoding");
  cmd->callback([o] { run(*o); });
}

}  // namespace duogen::cli
