#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/check.h"

namespace duogen::tokenizer {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

// Length of the UTF-8 character that starts with byte b (subjects are valid UTF-8).
std::size_t char_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  return 4;
}

}  // namespace

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Impl() { pcre2_code_free(code); }
};

Regex::Regex(std::string_view pattern, bool literal) : impl_(std::make_unique<Impl>()), pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  // UCP (Unicode classes) means nothing for a literal, and PCRE2 rejects it there.
  const std::uint32_t options = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              options, &error, &offset, nullptr);
  DUOGEN_CHECK(impl_->code != nullptr, FormatError,
               "pre-tokenizer pattern {:?} does not compile at offset {}: {}", pattern_, offset,
               pcre2_message(error));
  // JIT is an optimisation: without it (e.g. an unsupported CPU) the interpreter gives the
  // same matches.
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

void Regex::find_all(std::string_view subject,
                     std::vector<std::pair<std::size_t, std::size_t>>& out) const {
  // Match data is per call so that one Regex can be used from several threads.
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(impl_->code, nullptr), &pcre2_match_data_free);
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  std::size_t start = 0;
  while (start < subject.size()) {
    // The subject was validated once by the caller, so PCRE2 need not re-check it per call.
    const int rc = impl_->jit ? pcre2_jit_match(impl_->code, text, subject.size(), start,
                                                PCRE2_NO_UTF_CHECK, data.get(), nullptr)
                              : pcre2_match(impl_->code, text, subject.size(), start,
                                            PCRE2_NO_UTF_CHECK, data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    DUOGEN_CHECK(rc > 0, InvalidArgument, "pre-tokenizer pattern {:?} failed: {}", pattern_,
                 pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const std::size_t begin = ovector[0], end = ovector[1];
    if (end > begin) {
      out.emplace_back(begin, end);
      start = end;
    } else if (begin < subject.size()) {
      // Empty matches are not pieces (HF drops them); step over one character.
      start = begin + char_length(static_cast<unsigned char>(subject[begin]));
    } else {
      return;
    }
  }
}

}  // namespace duogen::tokenizer
