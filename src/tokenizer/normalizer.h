// Unicode normalizers of tokenizer.json (`NFC`, `NFD`, `NFKC`, `NFKD`, and a `Sequence` of them),
// applied through utf8proc to the text between added tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace duogen::tokenizer {

enum class NormalizationForm { kNfc, kNfd, kNfkc, kNfkd };

class Normalizer {
 public:
  Normalizer() = default;  // the identity (tokenizer.json "normalizer": null)
  explicit Normalizer(std::vector<NormalizationForm> forms) : forms_(std::move(forms)) {}

  bool is_identity() const { return forms_.empty(); }
  // text (valid UTF-8) normalized; returns text itself when nothing can change.
  std::string apply(std::string_view text) const;

 private:
  std::vector<NormalizationForm> forms_;  // applied in order
};

}  // namespace duogen::tokenizer
