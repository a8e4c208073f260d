#include "tokenizer/tokenizer_json_sax.h"

#include <fmt/format.h>

namespace duogen::tokenizer {
namespace {

using nlohmann::json;

// SAX handler: forwards events to nlohmann's DOM builder except inside model.vocab and
// model.merges, which it collects itself.
class Handler {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  Handler(json& rest, CapturedModel& model) : dom_(rest, /*allow_exceptions=*/false), model_(model) {}

  bool null() { return capture_ == Capture::kNone ? dom_.null() : bad_value(); }
  bool boolean(bool v) { return capture_ == Capture::kNone ? dom_.boolean(v) : bad_value(); }
  bool number_integer(number_integer_t v) {
    if (capture_ == Capture::kVocab) return vocab_entry(v);
    return capture_ == Capture::kNone ? dom_.number_integer(v) : bad_value();
  }
  bool number_unsigned(number_unsigned_t v) {
    if (capture_ == Capture::kVocab) return vocab_entry(static_cast<number_integer_t>(v));
    return capture_ == Capture::kNone ? dom_.number_unsigned(v) : bad_value();
  }
  bool number_float(number_float_t v, const string_t& s) {
    return capture_ == Capture::kNone ? dom_.number_float(v, s) : bad_value();
  }
  bool binary(binary_t& v) { return capture_ == Capture::kNone ? dom_.binary(v) : bad_value(); }
  bool string(string_t& v) {
    if (capture_ == Capture::kNone) return dom_.string(v);
    if (capture_ == Capture::kMerges && depth_ == capture_depth_) return merge_string(v);
    if (capture_ == Capture::kMerges && depth_ == capture_depth_ + 1) {
      pair_.push_back(std::move(v));
      return true;
    }
    return bad_value();
  }
  bool key(string_t& k) {
    if (capture_ == Capture::kVocab) {
      vocab_key_ = std::move(k);
      return true;
    }
    if (depth_ < kMaxTracked) keys_[depth_] = k;
    return dom_.key(k);
  }
  bool start_object(std::size_t n) {
    if (capture_ != Capture::kNone) return bad_value();
    if (at_model_member("vocab")) return begin_capture(Capture::kVocab);
    ++depth_;
    return dom_.start_object(n);
  }
  bool end_object() {
    --depth_;
    if (capture_ == Capture::kVocab) {
      capture_ = Capture::kNone;
      return true;
    }
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (capture_ == Capture::kMerges && depth_ == capture_depth_) {
      ++depth_;
      pair_.clear();
      return true;
    }
    if (capture_ != Capture::kNone) return bad_value();
    if (at_model_member("merges")) return begin_capture(Capture::kMerges);
    ++depth_;
    return dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    if (capture_ == Capture::kMerges) {
      if (depth_ == capture_depth_) return merge_pair();
      capture_ = Capture::kNone;
      return true;
    }
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& e) {
    error_ = fmt::format("{} (at byte {} near {:?})", e.what(), position, token);
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  enum class Capture { kNone, kVocab, kMerges };
  static constexpr int kMaxTracked = 4;

  // True when the next value is root["model"][name].
  bool at_model_member(const char* name) const {
    return depth_ == 2 && keys_[1] == "model" && keys_[2] == name;
  }
  bool begin_capture(Capture what) {
    (what == Capture::kVocab ? model_.has_vocab : model_.has_merges) = true;
    capture_ = what;
    ++depth_;
    capture_depth_ = depth_;
    return dom_.null();  // the DOM keeps a placeholder for the captured member
  }
  bool vocab_entry(number_integer_t id) {
    if (id < 0 || id > INT32_MAX) return fail("model.vocab", fmt::format("id {} of {:?} is out of range", id, vocab_key_));
    model_.vocab.emplace_back(std::move(vocab_key_), static_cast<std::int32_t>(id));
    return true;
  }
  // The older "left right" form; byte-level tokens never contain a space.
  bool merge_string(const std::string& s) {
    const auto space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
      return fail(fmt::format("model.merges[{}]", model_.merges.size()), fmt::format("{:?} is not two tokens", s));
    }
    model_.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    return true;
  }
  bool merge_pair() {
    if (pair_.size() != 2) return fail(fmt::format("model.merges[{}]", model_.merges.size()), "expected \"a b\" or [\"a\", \"b\"]");
    model_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
    return true;
  }
  bool bad_value() {
    return fail(capture_ == Capture::kVocab ? "model.vocab" : fmt::format("model.merges[{}]", model_.merges.size()),
                capture_ == Capture::kVocab ? "expected an object of token -> integer id"
                                            : "expected \"a b\" or [\"a\", \"b\"]");
  }
  // Records the first content error; parsing stops, and the caller reports it.
  bool fail(std::string field, std::string problem) {
    if (!model_.error) model_.error.emplace(std::move(field), std::move(problem));
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  CapturedModel& model_;
  Capture capture_ = Capture::kNone;
  int depth_ = 0;          // containers open, captured ones included
  int capture_depth_ = 0;  // depth inside the captured container
  std::string keys_[kMaxTracked + 1];  // last key seen at each depth (1 = root object)
  std::string vocab_key_;
  std::vector<std::string> pair_;
  std::string error_;
};

}  // namespace

bool parse_tokenizer_json(std::istream& in, json& rest, CapturedModel& model, std::string& syntax_error) {
  Handler handler(rest, model);
  const bool ok = json::sax_parse(in, &handler, json::input_format_t::json, /*strict=*/true);
  if (!ok && !model.error) syntax_error = handler.error().empty() ? "malformed JSON" : handler.error();
  return ok;
}

}  // namespace duogen::tokenizer
