#include "tokenizer/tokenizer.h"

#include "tokenizer/utf8.h"

namespace duogen::tokenizer {

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids, bool skip_special) const {
  return replace_invalid_utf8(decode_bytes(ids, skip_special));
}

}  // namespace duogen::tokenizer
