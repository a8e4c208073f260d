// bench_tokenizer: single-thread encode throughput of duogen's tokenizer on a JSON Lines corpus
// ({"text": ...} per line). Prints one JSON object; tools/bench/bench_tokenizer.py runs it next
// to HF `tokenizers` on the same corpus and reports the ratio.
//
//   bench_tokenizer --tokenizer DIR --corpus FILE [--passes N]
//
// "cold" is the first pass on a freshly loaded tokenizer (empty word cache); "warm" is the best
// of the following passes.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "duogen/error.h"
#include "tokenizer/load_tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string tokenizer;
  std::string corpus;
  int passes = 10;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--tokenizer") {
      a.tokenizer = argv[i + 1];
    } else if (key == "--corpus") {
      a.corpus = argv[i + 1];
    } else if (key == "--passes") {
      a.passes = std::atoi(argv[i + 1]);
    } else {
      throw duogen::UsageError("unknown option " + key);
    }
  }
  if (a.tokenizer.empty() || a.corpus.empty() || a.passes < 2) {
    throw duogen::UsageError("usage: bench_tokenizer --tokenizer DIR --corpus FILE [--passes N>=2]");
  }
  return a;
}

std::vector<std::string> read_texts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw duogen::IoError("cannot open " + path);
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  }
  return texts;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    const auto texts = read_texts(args.corpus);
    std::size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();

    const auto load_start = Clock::now();
    const auto tok = duogen::tokenizer::load_tokenizer(args.tokenizer);
    const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();

    std::size_t tokens = 0;
    std::vector<double> seconds;
    for (int pass = 0; pass < args.passes; ++pass) {
      tokens = 0;
      const auto start = Clock::now();
      for (const auto& t : texts) tokens += tok->encode(t).size();
      seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    double best_warm = seconds[1];
    for (std::size_t i = 2; i < seconds.size(); ++i) best_warm = std::min(best_warm, seconds[i]);
    const nlohmann::json report = {
        {"texts", texts.size()},         {"bytes", bytes},
        {"tokens", tokens},              {"load_s", load_s},
        {"cold_s", seconds[0]},          {"warm_s", best_warm},
        {"cold_mb_s", bytes / 1e6 / seconds[0]}, {"warm_mb_s", bytes / 1e6 / best_warm}};
    std::cout << report.dump() << "\n";
    return 0;
  } catch (const duogen::UsageError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bench_tokenizer: " << e.what() << "\n";
    return 1;
  }
}
