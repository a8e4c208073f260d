#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <fstream>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace duogen::tokenizer {

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  DUOGEN_CHECK(std::ifstream(model_file).good(), IoError, "{}: cannot open SentencePiece model",
               model_file.string());
  const auto status = processor_->Load(model_file.string());
  DUOGEN_CHECK(status.ok(), FormatError, "{}: not a SentencePiece model: {}", model_file.string(),
               status.ToString());
  for (int id = 0; id < processor_->GetPieceSize(); ++id) {
    if (processor_->IsControl(id)) {
      control_.add({processor_->IdToPiece(id), id, /*special=*/true});
    }
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<std::int32_t> SentencePieceTokenizer::encode(std::string_view text,
                                                         bool add_special) const {
  require_valid_utf8(text);
  std::vector<std::int32_t> ids;
  if (add_special && processor_->bos_id() >= 0) ids.push_back(processor_->bos_id());
  std::vector<Segment> segments;
  control_.split(text, /*normalized=*/false, segments);
  for (const Segment& segment : segments) {
    if (segment.id) {
      ids.push_back(*segment.id);
      continue;
    }
    std::vector<int> piece_ids;
    const auto status =
        processor_->Encode(text.substr(segment.begin, segment.end - segment.begin), &piece_ids);
    DUOGEN_CHECK(status.ok(), InvalidArgument, "SentencePiece encode failed: {}", status.ToString());
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
  return ids;
}

std::string SentencePieceTokenizer::decode_bytes(const std::vector<std::int32_t>& ids,
                                                 bool skip_special) const {
  // Runs of ordinary pieces go through SentencePiece (which handles the word-boundary marker and
  // byte pieces); control symbols are written as their text unless skipped.
  std::string out;
  std::vector<int> run;
  auto flush = [&] {
    if (run.empty()) return;
    std::string text;
    const auto status = processor_->Decode(run, &text);
    DUOGEN_CHECK(status.ok(), InvalidArgument, "SentencePiece decode failed: {}", status.ToString());
    out += text;
    run.clear();
  };
  for (const std::int32_t id : ids) {
    if (id < 0 || id >= processor_->GetPieceSize()) continue;
    if (processor_->IsControl(id)) {
      flush();
      if (!skip_special) out += processor_->IdToPiece(id);
    } else {
      run.push_back(id);
    }
  }
  flush();
  return out;
}

std::optional<std::int32_t> SentencePieceTokenizer::token_to_id(std::string_view token) const {
  const int id = processor_->PieceToId(token);
  // PieceToId answers unk_id for unknown pieces; only a real match counts.
  if (id < 0 || processor_->IdToPiece(id) != token) return std::nullopt;
  return id;
}

std::optional<std::string> SentencePieceTokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || id >= processor_->GetPieceSize()) return std::nullopt;
  return processor_->IdToPiece(id);
}

std::int32_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }

bool SentencePieceTokenizer::is_special(std::int32_t id) const {
  return id >= 0 && id < processor_->GetPieceSize() &&
         (processor_->IsControl(id) || processor_->IsUnknown(id));
}

std::vector<std::int32_t> SentencePieceTokenizer::special_ids() const {
  std::vector<std::int32_t> ids;
  for (int id = 0; id < processor_->GetPieceSize(); ++id) {
    if (is_special(id)) ids.push_back(id);
  }
  return ids;
}

}  // namespace duogen::tokenizer
