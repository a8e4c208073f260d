#include "tokenizer/tokenizer_json.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "tokenizer/tokenizer_json_sax.h"

namespace duogen::tokenizer {
namespace {

using nlohmann::json;

// Throws FormatError "<file>: <field>: <problem>".
struct Reader {
  std::string source;

  [[noreturn]] void fail(std::string_view field, std::string_view problem) const {
    DUOGEN_FAIL(FormatError, "{}: {}: {}", source, field, problem);
  }
  const json& member(const json& object, const char* key, std::string_view field) const {
    if (!object.is_object() || !object.contains(key)) fail(field, fmt::format("missing \"{}\"", key));
    return object.at(key);
  }
  std::string string_of(const json& v, std::string_view field) const {
    if (!v.is_string()) fail(field, "expected a string");
    return v.get<std::string>();
  }
  bool bool_or(const json& object, const char* key, bool fallback, std::string_view field) const {
    if (!object.contains(key) || object.at(key).is_null()) return fallback;
    if (!object.at(key).is_boolean()) fail(fmt::format("{}.{}", field, key), "expected a boolean");
    return object.at(key).get<bool>();
  }
  std::string type_of(const json& object, std::string_view field) const {
    return string_of(member(object, "type", field), fmt::format("{}.type", field));
  }
};

void read_normalizer(const Reader& r, const json& n, std::string_view field,
                     std::vector<NormalizationForm>& out) {
  if (n.is_null()) return;
  const std::string type = r.type_of(n, field);
  if (type == "NFC") {
    out.push_back(NormalizationForm::kNfc);
  } else if (type == "NFD") {
    out.push_back(NormalizationForm::kNfd);
  } else if (type == "NFKC") {
    out.push_back(NormalizationForm::kNfkc);
  } else if (type == "NFKD") {
    out.push_back(NormalizationForm::kNfkd);
  } else if (type == "Sequence") {
    const json& list = r.member(n, "normalizers", field);
    if (!list.is_array()) r.fail(field, "\"normalizers\" is not an array");
    for (std::size_t i = 0; i < list.size(); ++i) {
      read_normalizer(r, list[i], fmt::format("{}.normalizers[{}]", field, i), out);
    }
  } else {
    r.fail(field, fmt::format("unsupported normalizer type \"{}\" (supported: NFC, NFD, NFKC, "
                              "NFKD, Sequence)", type));
  }
}

SplitBehavior read_behavior(const Reader& r, const std::string& name, std::string_view field) {
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  r.fail(field, fmt::format("unknown split behavior \"{}\"", name));
}

// The pattern compiled, with a compile error reported against the file and field.
Regex compile(const Reader& r, const std::string& pattern, bool literal, std::string_view field) {
  try {
    return Regex(pattern, literal);
  } catch (const FormatError& e) {
    r.fail(field, e.what());
  }
}

// HF ByteLevel: add_prefix_space defaults to true, use_regex to true.
ByteLevelStep read_byte_level(const Reader& r, const json& p, std::string_view field) {
  return {r.bool_or(p, "add_prefix_space", true, field), r.bool_or(p, "use_regex", true, field)};
}

void read_pre_tokenizer(const Reader& r, const json& p, std::string_view field, PreTokenizer& out,
                        bool& has_byte_level) {
  if (p.is_null()) return;
  const std::string type = r.type_of(p, field);
  if (type == "Sequence") {
    const json& list = r.member(p, "pretokenizers", field);
    if (!list.is_array()) r.fail(field, "\"pretokenizers\" is not an array");
    for (std::size_t i = 0; i < list.size(); ++i) {
      read_pre_tokenizer(r, list[i], fmt::format("{}.pretokenizers[{}]", field, i), out,
                         has_byte_level);
    }
  } else if (type == "Split") {
    const json& pattern = r.member(p, "pattern", field);
    const bool literal = pattern.is_object() && pattern.contains("String");
    if (!literal && !(pattern.is_object() && pattern.contains("Regex"))) {
      r.fail(fmt::format("{}.pattern", field), "expected {\"Regex\": ...} or {\"String\": ...}");
    }
    const std::string text = r.string_of(pattern.at(literal ? "String" : "Regex"),
                                         fmt::format("{}.pattern", field));
    SplitStep step{compile(r, text, literal, fmt::format("{}.pattern", field)),
                   SplitBehavior::kIsolated, r.bool_or(p, "invert", false, field)};
    step.behavior = read_behavior(
        r, r.string_of(r.member(p, "behavior", field), fmt::format("{}.behavior", field)), field);
    out.add_split(std::move(step));
  } else if (type == "ByteLevel") {
    out.add_byte_level(read_byte_level(r, p, field));
    has_byte_level = true;
  } else {
    r.fail(field, fmt::format("unsupported pre-tokenizer type \"{}\" (supported: Split, "
                              "ByteLevel, Sequence)", type));
  }
}

// model.vocab and model.merges come captured by the SAX pass; the rest of "model" is m.
void read_model(const Reader& r, const json& m, CapturedModel& captured, BpeTokenizerConfig& config) {
  const std::string type = r.type_of(m, "model");
  if (type != "BPE") r.fail("model.type", fmt::format("\"{}\" is not supported, only BPE", type));
  if (!captured.has_vocab) r.fail("model", "missing \"vocab\" (an object of token -> id)");
  if (!captured.has_merges) r.fail("model", "missing \"merges\" (an array)");
  config.vocab = std::move(captured.vocab);
  config.merges = std::move(captured.merges);
  if (m.contains("dropout") && m.at("dropout").is_number() && m.at("dropout").get<double>() > 0.0) {
    r.fail("model.dropout", "BPE dropout is a training feature and is not supported");
  }
  if (r.bool_or(m, "byte_fallback", false, "model")) {
    r.fail("model.byte_fallback", "byte_fallback is not supported for byte-level BPE");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (m.contains(key) && !m.at(key).is_null() && !r.string_of(m.at(key), key).empty()) {
      r.fail(fmt::format("model.{}", key), "a non-empty value is not supported");
    }
  }
  if (m.contains("unk_token") && !m.at("unk_token").is_null()) {
    config.bpe.unk_token = r.string_of(m.at("unk_token"), "model.unk_token");
  }
  config.bpe.fuse_unk = r.bool_or(m, "fuse_unk", false, "model");
  config.bpe.ignore_merges = r.bool_or(m, "ignore_merges", false, "model");
}

void read_added_tokens(const Reader& r, const json& list, BpeTokenizerConfig& config) {
  if (list.is_null()) return;
  if (!list.is_array()) r.fail("added_tokens", "expected an array");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string field = fmt::format("added_tokens[{}]", i);
    const json& t = list[i];
    AddedToken token;
    const json& id = r.member(t, "id", field);
    if (!id.is_number_integer()) r.fail(field + ".id", "expected an integer");
    token.id = id.get<std::int32_t>();
    token.content = r.string_of(r.member(t, "content", field), field + ".content");
    if (token.content.empty()) r.fail(field + ".content", "empty");
    token.special = r.bool_or(t, "special", false, field);
    // HF's default: special tokens are not normalized, other added tokens are.
    token.normalized = r.bool_or(t, "normalized", !token.special, field);
    token.single_word = r.bool_or(t, "single_word", false, field);
    token.lstrip = r.bool_or(t, "lstrip", false, field);
    token.rstrip = r.bool_or(t, "rstrip", false, field);
    config.added_tokens.push_back(std::move(token));
  }
}

// ids of one TemplateProcessing piece {"SpecialToken": {"id": name}}.
void append_special(const Reader& r, const json& processor, const json& piece,
                    std::vector<std::int32_t>& out) {
  const std::string name = r.string_of(r.member(piece, "id", "post_processor.single"),
                                       "post_processor.single.SpecialToken.id");
  const json& tokens = r.member(processor, "special_tokens", "post_processor");
  const json& entry = r.member(tokens, name.c_str(), "post_processor.special_tokens");
  for (const json& id : r.member(entry, "ids", "post_processor.special_tokens." + name)) {
    out.push_back(id.get<std::int32_t>());
  }
}

void read_post_processor(const Reader& r, const json& p, std::string_view field,
                         BpeTokenizerConfig& config) {
  if (p.is_null()) return;
  const std::string type = r.type_of(p, field);
  if (type == "ByteLevel") return;  // only adjusts offsets, never ids
  if (type == "Sequence") {
    const json& list = r.member(p, "processors", field);
    for (std::size_t i = 0; i < list.size(); ++i) {
      read_post_processor(r, list[i], fmt::format("{}.processors[{}]", field, i), config);
    }
    return;
  }
  if (type != "TemplateProcessing") {
    r.fail(field, fmt::format("unsupported post-processor type \"{}\" (supported: ByteLevel, "
                              "TemplateProcessing, Sequence)", type));
  }
  bool seen_sequence = false;
  for (const json& piece : r.member(p, "single", field)) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      append_special(r, p, piece.at("SpecialToken"), seen_sequence ? config.suffix_ids : config.prefix_ids);
    } else {
      r.fail(fmt::format("{}.single", field), "expected Sequence or SpecialToken pieces");
    }
  }
}

}  // namespace

BpeTokenizerConfig read_tokenizer_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open tokenizer file", path.string());
  json root;
  CapturedModel captured;
  std::string syntax_error;
  BpeTokenizerConfig config;
  config.source = path.string();
  const Reader r{config.source};
  if (!parse_tokenizer_json(in, root, captured, syntax_error) && !captured.error) {
    DUOGEN_FAIL(FormatError, "{}: malformed JSON: {}", path.string(), syntax_error);
  }
  // A bad vocab or merges entry stops the parse, so the rest of the DOM is incomplete.
  if (captured.error) r.fail(captured.error->first, captured.error->second);
  DUOGEN_CHECK(root.is_object(), FormatError, "{}: not a JSON object", path.string());
  read_model(r, r.member(root, "model", "tokenizer.json"), captured, config);
  read_added_tokens(r, root.value("added_tokens", json()), config);
  read_normalizer(r, root.value("normalizer", json()), "normalizer", config.normalizer);
  bool has_byte_level = false;
  read_pre_tokenizer(r, root.value("pre_tokenizer", json()), "pre_tokenizer", config.pre_tokenizer,
                     has_byte_level);
  if (!has_byte_level) {
    r.fail("pre_tokenizer", "no ByteLevel pre-tokenizer: only byte-level BPE is supported");
  }
  read_post_processor(r, root.value("post_processor", json()), "post_processor", config);
  const json decoder = root.value("decoder", json());
  if (decoder.is_null() || r.type_of(decoder, "decoder") != "ByteLevel") {
    r.fail("decoder", "only the ByteLevel decoder is supported");
  }
  return config;
}

}  // namespace duogen::tokenizer
