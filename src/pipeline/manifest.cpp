#include "pipeline/manifest.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/json_config.h"
#include "io/pickle_checkpoint.h"
#include "io/pipeline_snapshot.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "duogen-model-v1";

fs::path existing_path(const io::JsonObject& json, const char* key, const fs::path& base) {
  fs::path p(json.require<std::string>(key));
  if (p.is_relative()) p = base / p;
  std::error_code ec;
  DUOGEN_CHECK(fs::exists(p, ec), FormatError, "{}: '{}' names {}, which does not exist",
               json.file(), key, p.string());
  return p.lexically_normal();
}

CfgNegative parse_cfg_negative(const std::string& value, const std::string& file) {
  if (value == "after_last_image") return CfgNegative::kAfterLastImage;
  if (value == "assistant_turn_start") return CfgNegative::kAssistantTurnStart;
  if (value == "zero_context") return CfgNegative::kZeroContext;
  DUOGEN_FAIL(FormatError,
              "{}: 'cfg_negative' must be after_last_image, assistant_turn_start or "
              "zero_context, got '{}'",
              file, value);
}

}  // namespace

const char* to_string(CfgNegative rule) {
  switch (rule) {
    case CfgNegative::kAfterLastImage:
      return "after_last_image";
    case CfgNegative::kAssistantTurnStart:
      return "assistant_turn_start";
    case CfgNegative::kZeroContext:
      return "zero_context";
  }
  return "?";
}

JobOptions builtin_defaults() {
  JobOptions d;
  d.seed = 1;  // Cosmos' default seed (architecture.md §10.6)
  d.steps = 35;
  d.guidance = 7.0;
  d.width = 768;
  d.height = 768;
  d.max_new_tokens = 1024;
  d.max_images = 8;
  d.temperature = 0.0;  // greedy; DuoGen's sampling parameters are unknown (§1.2)
  d.top_k = 0;
  d.top_p = 1.0;
  d.min_p = 0.0;
  d.repetition_penalty = 1.0;
  d.solver = "unipc";
  d.schedule = "linear_shift";
  return d;
}

ModelManifest read_manifest(const fs::path& dir_or_file) {
  std::error_code ec;
  const fs::path file =
      fs::is_directory(dir_or_file, ec) ? dir_or_file / "duogen.json" : dir_or_file;
  if (std::optional<std::string> pickle = io::pickle_checkpoint_error(dir_or_file)) {
    DUOGEN_FAIL(FormatError, "{}", *pickle);
  }
  DUOGEN_CHECK(!io::find_pipeline_snapshot(dir_or_file).has_value(), UsageError,
               "{}: a diffusers pipeline snapshot (model_index.json), not a DuoGen model: run "
               "the published Cosmos-Predict2.5 pipeline with `duogen video` (or `duogen t2i`)",
               dir_or_file.string());
  DUOGEN_CHECK(fs::exists(file, ec), IoError,
               "{}: no duogen.json (a DuoGen model directory names its components there; or "
               "give --mllm, --dit and --vae)",
               file.string());
  const io::JsonObject json = io::JsonObject::from_file(file);
  const fs::path base = fs::absolute(file).parent_path();
  static const char* const kKnown[] = {"format",
                                       "mllm",
                                       "tokenizer",
                                       "dit",
                                       "vae",
                                       "connector",
                                       "bov_token",
                                       "bov_token_id",
                                       "eov_token",
                                       "eov_token_id",
                                       "cfg_negative",
                                       "cfg_formula",
                                       "mllm_max_side",
                                       "condition_max_area",
                                       "noise",
                                       "shift",
                                       "condition_timestep",
                                       "network_time",
                                       "defaults"};
  for (const auto& [key, value] : json.json().items()) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    DUOGEN_CHECK(known, FormatError, "{}: unknown key '{}'", file.string(), key);
  }
  const auto format = json.get<std::string>("format", kFormat);
  DUOGEN_CHECK(format == kFormat, FormatError, "{}: 'format' is '{}', this build reads '{}'",
               file.string(), format, kFormat);

  ModelManifest m;
  m.file = file;
  m.mllm = existing_path(json, "mllm", base);
  m.tokenizer = json.has("tokenizer") ? existing_path(json, "tokenizer", base) : m.mllm;
  m.dit = existing_path(json, "dit", base);
  m.vae = existing_path(json, "vae", base);
  if (json.has("connector")) m.connector = existing_path(json, "connector", base);
  m.bov_token = json.get<std::string>("bov_token", m.bov_token);
  m.bov_token_id = json.get<std::int64_t>("bov_token_id", m.bov_token_id);
  m.eov_token = json.get<std::string>("eov_token", m.eov_token);
  m.eov_token_id = json.get<std::int64_t>("eov_token_id", m.eov_token_id);
  DUOGEN_CHECK(m.bov_token_id >= 0 && m.eov_token_id >= 0 && m.bov_token_id != m.eov_token_id,
               FormatError, "{}: bov_token_id {} and eov_token_id {} must be distinct ids >= 0",
               file.string(), m.bov_token_id, m.eov_token_id);
  m.cfg_negative = parse_cfg_negative(
      json.get<std::string>("cfg_negative", to_string(m.cfg_negative)), file.string());
  const auto formula = json.get<std::string>("cfg_formula", "cosmos");
  DUOGEN_CHECK(formula == "cosmos" || formula == "standard", FormatError,
               "{}: 'cfg_formula' must be cosmos or standard, got '{}'", file.string(), formula);
  m.cfg_formula = formula == "cosmos" ? CfgFormula::kCosmos : CfgFormula::kStandard;
  m.mllm_max_side = json.get<std::int64_t>("mllm_max_side", m.mllm_max_side);
  DUOGEN_CHECK(m.mllm_max_side == 0 || m.mllm_max_side >= 28, FormatError,
               "{}: 'mllm_max_side' must be 0 (off) or >= 28, got {}", file.string(),
               m.mllm_max_side);
  m.condition_max_area = json.get<std::int64_t>("condition_max_area", m.condition_max_area);
  DUOGEN_CHECK(m.condition_max_area >= 256, FormatError,
               "{}: 'condition_max_area' must be >= 256 pixels, got {}", file.string(),
               m.condition_max_area);
  m.noise = json.get<std::string>("noise", m.noise);
  DUOGEN_CHECK(m.noise == "numpy" || m.noise == "torch", FormatError,
               "{}: 'noise' must be numpy or torch, got '{}'", file.string(), m.noise);
  m.shift = json.get<double>("shift", m.shift);
  const std::string network_time = json.get<std::string>("network_time", "timestep");
  DUOGEN_CHECK(network_time == "timestep" || network_time == "sigma", FormatError,
               "{}: 'network_time' must be timestep or sigma, got '{}'", file.string(),
               network_time);
  m.network_time = network_time == "sigma" ? sampling::flow::NetworkTime::kSigma
                                           : sampling::flow::NetworkTime::kTimestep;
  DUOGEN_CHECK(m.shift > 0, FormatError, "{}: 'shift' must be > 0, got {}", file.string(), m.shift);
  if (json.has("condition_timestep")) {
    const auto& v = json.json()["condition_timestep"];
    if (v.is_string()) {
      DUOGEN_CHECK(v.get<std::string>() == "same", FormatError,
                   "{}: 'condition_timestep' must be \"same\" or a number in [0, 1]",
                   file.string());
    } else {
      const double t = json.require<double>("condition_timestep");
      DUOGEN_CHECK(t >= 0 && t <= 1, FormatError,
                   "{}: 'condition_timestep' must be in [0, 1], got {}", file.string(), t);
      m.condition_timestep = t;
    }
  }
  m.defaults = builtin_defaults();
  if (json.has("defaults")) {
    m.defaults = merge_options(
        m.defaults, parse_options_object(json.json()["defaults"], file.string() + " 'defaults'"));
  }
  return m;
}

ModelManifest resolve_components(std::optional<ModelManifest> base,
                                 const std::optional<fs::path>& mllm,
                                 const std::optional<fs::path>& dit,
                                 const std::optional<fs::path>& vae,
                                 const std::optional<fs::path>& tokenizer) {
  ModelManifest m = base ? std::move(*base) : ModelManifest{};
  if (!base) m.defaults = builtin_defaults();
  const auto apply = [](fs::path& slot, const std::optional<fs::path>& given, const char* flag) {
    if (given) {
      std::error_code ec;
      DUOGEN_CHECK(fs::exists(*given, ec), UsageError, "{} {}: no such file or directory", flag,
                   given->string());
      slot = *given;
    }
    DUOGEN_CHECK(!slot.empty(), UsageError,
                 "no {} given: pass --model DIR (with a duogen.json) or {} PATH", flag + 2, flag);
  };
  apply(m.mllm, mllm, "--mllm");
  if (tokenizer) {
    apply(m.tokenizer, tokenizer, "--tokenizer");
  } else if (m.tokenizer.empty()) {
    m.tokenizer = m.mllm;
  }
  apply(m.dit, dit, "--dit");
  apply(m.vae, vae, "--vae");
  return m;
}

}  // namespace duogen::pipeline
