#include "io/json_config.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace duogen::io {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open (missing or unreadable)", path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  DUOGEN_CHECK(!j.is_discarded(), FormatError, "{}: not valid JSON", path.string());
  return j;
}

JsonObject::JsonObject(nlohmann::json value, std::string file, std::string path)
    : value_(std::move(value)), file_(std::move(file)), path_(std::move(path)) {
  DUOGEN_CHECK(value_.is_object(), FormatError, "{}: '{}' must be a JSON object", file_,
               path_.empty() ? "(top level)" : path_.substr(0, path_.size() - 1));
}

JsonObject JsonObject::from_file(const std::filesystem::path& path) {
  return JsonObject(read_json_file(path), path.string());
}

const nlohmann::json* JsonObject::find(std::string_view key) const {
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonObject::has(std::string_view key) const { return find(key) != nullptr; }

std::string JsonObject::qualified(std::string_view key) const { return path_ + std::string(key); }

void JsonObject::type_error(std::string_view key, const char* expected,
                            const nlohmann::json& got) const {
  DUOGEN_FAIL(FormatError, "{}: '{}' must be {}, got {}", file_, qualified(key), expected,
              got.dump());
}

std::optional<JsonObject> JsonObject::child(std::string_view key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) type_error(key, "an object", *v);
  return JsonObject(*v, file_, qualified(key) + ".");
}

}  // namespace duogen::io

namespace duogen::io {

void JsonObject::unsupported(std::string_view key, std::string_view why) const {
  const nlohmann::json* v = find(key);
  DUOGEN_FAIL(FormatError, "{}: '{}' = {} is not supported: {}", file_, qualified(key),
              v == nullptr ? std::string("absent") : v->dump(), why);
}

namespace {

constexpr IgnoredKey kTransformersCommon[] = {
    {"architectures", "names the Python class; duogen picks the model by model_type"},
    {"transformers_version", "the version that wrote the file"},
    {"_name_or_path", "where transformers loaded the config from"},
    {"dtype", "storage dtype hint; the dtype a model runs in is a load option"},
    {"torch_dtype", "storage dtype hint (older spelling of dtype)"},
    {"initializer_range", "random initialisation only"},
    {"use_cache", "whether transformers returns a KV cache; duogen always keeps one"},
    {"output_hidden_states", "what transformers returns, not what it computes"},
    {"output_attentions", "what transformers returns, not what it computes"},
    {"return_dict", "what transformers returns, not what it computes"},
    {"torchscript", "a transformers export flag"},
    {"chunk_size_feed_forward", "transformers' memory-saving chunking; same result"},
    {"is_encoder_decoder", "false for every decoder-only model"},
    {"id2label", "classification heads only"},
    {"label2id", "classification heads only"},
    {"num_labels", "classification heads only"},
    {"problem_type", "classification heads only"},
    {"finetuning_task", "training bookkeeping"},
    {"task_specific_params", "pipeline defaults, not the network"},
    {"tokenizer_class", "the tokenizer is read from tokenizer.json"},
    {"prefix", "a text prefix for pipelines"},
    {"pad_token_id",
     "padding only; batch-1 inference pads nothing (and nn.Embedding's "
     "padding_idx only affects training)"},
    {"sep_token_id", "not used by decoder-only models"},
    {"decoder_start_token_id", "encoder-decoder models only"},
    {"pruned_heads", "pruned checkpoints are refused by their tensor shapes"},
    {"tie_encoder_decoder", "encoder-decoder models only"},
    {"is_decoder", "decoder-only models are decoders"},
    {"add_cross_attention", "encoder-decoder models only"},
    {"tf_legacy_loss", "training only"},
    {"use_bfloat16", "a TensorFlow-era storage hint"},
    // Generation parameters transformers moves to generation_config (duogen reads
    // generation_config.json; sampling options come in through the CLI / job files).
    {"max_length", "generation parameter"},
    {"min_length", "generation parameter"},
    {"do_sample", "generation parameter"},
    {"early_stopping", "generation parameter"},
    {"num_beams", "generation parameter"},
    {"num_beam_groups", "generation parameter"},
    {"diversity_penalty", "generation parameter"},
    {"temperature", "generation parameter"},
    {"top_k", "generation parameter"},
    {"top_p", "generation parameter"},
    {"typical_p", "generation parameter"},
    {"repetition_penalty", "generation parameter"},
    {"length_penalty", "generation parameter"},
    {"no_repeat_ngram_size", "generation parameter"},
    {"encoder_no_repeat_ngram_size", "generation parameter"},
    {"bad_words_ids", "generation parameter"},
    {"num_return_sequences", "generation parameter"},
    {"output_scores", "generation parameter"},
    {"return_dict_in_generate", "generation parameter"},
    {"forced_bos_token_id", "generation parameter"},
    {"forced_eos_token_id", "generation parameter"},
    {"remove_invalid_values", "generation parameter"},
    {"exponential_decay_length_penalty", "generation parameter"},
    {"suppress_tokens", "generation parameter"},
    {"begin_suppress_tokens", "generation parameter"},
    {"epsilon_cutoff", "generation parameter"},
    {"eta_cutoff", "generation parameter"},
    {"encoder_repetition_penalty", "generation parameter"},
};

constexpr IgnoredKey kDiffusersCommon[] = {
    {"_class_name", "checked by the loader (the class the file describes)"},
    {"_diffusers_version", "the version that wrote the file"},
    {"_name_or_path", "where diffusers loaded the config from"},
    {"_use_default_values", "diffusers' record of which keys took their defaults"},
};

}  // namespace

std::span<const IgnoredKey> transformers_common_keys() { return kTransformersCommon; }
std::span<const IgnoredKey> diffusers_common_keys() { return kDiffusersCommon; }

std::vector<std::string> unknown_keys(const JsonObject& object,
                                      std::span<const std::string_view> read,
                                      std::initializer_list<std::span<const IgnoredKey>> ignored) {
  std::vector<std::string> out;
  for (const auto& [key, value] : object.json().items()) {
    if (std::find(read.begin(), read.end(), key) != read.end()) continue;
    const bool known = std::any_of(ignored.begin(), ignored.end(), [&](const auto& list) {
      return std::any_of(list.begin(), list.end(),
                         [&](const IgnoredKey& k) { return k.key == key; });
    });
    if (!known) out.push_back(object.key_path(key));
  }
  return out;
}

void warn_unknown_keys(const JsonObject& object, const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  spdlog::warn(
      "{}: key(s) duogen does not know, ignored as the reference implementation ignores "
      "them (check that they do not describe a different network): {}",
      object.file(), fmt::join(keys, ", "));
}

}  // namespace duogen::io
