#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <utility>

namespace duogen::tokenizer {
namespace {

using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;

struct Span {
  std::size_t begin, end;
  bool delimiter;
};

// HF's fold over the spans of a split, in the order given by [first, last): a span is absorbed
// into the previous result when joins(span, whether the previously visited span was a
// delimiter) holds, widening it to cover both.
template <typename It, typename Joins>
std::vector<Span> fold(It first, It last, Joins joins) {
  std::vector<Span> out;
  bool previous_delimiter = false;
  for (It it = first; it != last; ++it) {
    if (!out.empty() && joins(*it, previous_delimiter)) {
      out.back().begin = std::min(out.back().begin, it->begin);
      out.back().end = std::max(out.back().end, it->end);
    } else {
      out.push_back(*it);
    }
    previous_delimiter = it->delimiter;
  }
  return out;
}

// HF `PreTokenizedString::split` with a pattern: the piece is cut into alternating non-matched
// and matched spans, then `behavior` decides which spans become pieces and what they absorb.
void split_piece(std::string_view piece, const Regex& regex, SplitBehavior behavior, bool invert,
                 Ranges& matches, std::vector<std::string_view>& out) {
  matches.clear();
  regex.find_all(piece, matches);
  std::vector<Span> spans;
  std::size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (b > prev) spans.push_back({prev, b, invert});
    spans.push_back({b, e, !invert});
    prev = e;
  }
  if (prev < piece.size()) spans.push_back({prev, piece.size(), invert});

  auto emit = [&](std::size_t b, std::size_t e) {
    if (e > b) out.push_back(piece.substr(b, e - b));
  };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) emit(s.begin, s.end);
      break;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) {
        if (!s.delimiter) emit(s.begin, s.end);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      // A delimiter joins the span before it unless that span is a delimiter too.
      for (const Span& s : fold(spans.begin(), spans.end(), [](const Span& s, bool before) {
             return s.delimiter && !before;
           })) {
        emit(s.begin, s.end);
      }
      break;
    case SplitBehavior::kMergedWithNext: {
      // Mirror image: walking backwards, a delimiter joins the span after it.
      const auto merged = fold(spans.rbegin(), spans.rend(), [](const Span& s, bool after) {
        return s.delimiter && !after;
      });
      for (auto it = merged.rbegin(); it != merged.rend(); ++it) emit(it->begin, it->end);
      break;
    }
    case SplitBehavior::kContiguous:
      // Adjacent spans of the same kind (in practice: runs of delimiters) form one piece.
      for (const Span& s : fold(spans.begin(), spans.end(), [](const Span& s, bool before) {
             return s.delimiter == before;
           })) {
        emit(s.begin, s.end);
      }
      break;
  }
}

}  // namespace

void PreTokenizer::add_split(SplitStep step) {
  steps_.push_back({Step::Kind::kSplit, splits_.size()});
  splits_.push_back(std::move(step));
}

void PreTokenizer::add_byte_level(ByteLevelStep step) {
  steps_.push_back({Step::Kind::kByteLevel, byte_levels_.size()});
  byte_levels_.push_back(step);
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces,
                         std::deque<std::string>& storage) const {
  pieces.clear();
  if (text.empty()) return;
  pieces.push_back(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::kSplit:
        apply_split(splits_[step.index], pieces);
        break;
      case Step::Kind::kByteLevel:
        apply_byte_level(byte_levels_[step.index], pieces, storage);
        break;
    }
  }
}

void PreTokenizer::apply_split(const SplitStep& step, std::vector<std::string_view>& pieces) const {
  std::vector<std::string_view> out;
  out.reserve(pieces.size() * 2);
  Ranges matches;
  for (const std::string_view piece : pieces) {
    split_piece(piece, step.regex, step.behavior, step.invert, matches, out);
  }
  pieces = std::move(out);
}

void PreTokenizer::apply_byte_level(const ByteLevelStep& step, std::vector<std::string_view>& pieces,
                                    std::deque<std::string>& storage) const {
  if (step.add_prefix_space) {
    for (std::string_view& piece : pieces) {
      if (piece.starts_with(' ')) continue;
      std::string& spaced = storage.emplace_back(1, ' ');
      spaced.append(piece);
      piece = spaced;
    }
  }
  if (step.use_regex) {
    std::vector<std::string_view> out;
    out.reserve(pieces.size() * 2);
    Ranges matches;
    for (const std::string_view piece : pieces) {
      split_piece(piece, gpt2_regex_, SplitBehavior::kIsolated, false, matches, out);
    }
    pieces = std::move(out);
  }
}

}  // namespace duogen::tokenizer
