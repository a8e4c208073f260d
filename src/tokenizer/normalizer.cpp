#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/check.h"

namespace duogen::tokenizer {
namespace {

// Every code point below U+0300 is NFC-stable (NFC_Quick_Check=Yes and never composes with a
// preceding character), so such text is returned as is without calling utf8proc.
bool nfc_stable_fast(std::string_view text) {
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    // Lead bytes C2..CB encode U+0080..U+02FF; higher leads encode U+0300 and above.
    if (b >= 0xCC) return false;
  }
  return true;
}

bool is_ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

utf8proc_option_t options_for(NormalizationForm form) {
  switch (form) {
    case NormalizationForm::kNfc:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    case NormalizationForm::kNfd:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    case NormalizationForm::kNfkc:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    case NormalizationForm::kNfkd:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                            UTF8PROC_COMPAT);
  }
  return UTF8PROC_STABLE;
}

std::string normalize(std::string_view text, NormalizationForm form) {
  if (is_ascii(text) || (form == NormalizationForm::kNfc && nfc_stable_fast(text))) {
    return std::string(text);
  }
  utf8proc_uint8_t* out = nullptr;
  // An explicit length (not UTF8PROC_NULLTERM) keeps embedded NUL characters.
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &out, options_for(form));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(out, &std::free);
  DUOGEN_CHECK(n >= 0, InvalidArgument, "Unicode normalization failed: {}", utf8proc_errmsg(n));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

}  // namespace

std::string Normalizer::apply(std::string_view text) const {
  std::string current(text);
  for (const NormalizationForm form : forms_) current = normalize(current, form);
  return current;
}

}  // namespace duogen::tokenizer
