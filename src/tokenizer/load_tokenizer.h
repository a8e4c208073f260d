// Opens the tokenizer of a model directory: tokenizer.json (byte-level BPE) when present,
// otherwise tokenizer.model (SentencePiece). A path to either file also works.
#pragma once

#include <filesystem>
#include <memory>

#include "tokenizer/tokenizer.h"

namespace duogen::tokenizer {

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);

}  // namespace duogen::tokenizer
