// `cosmos_dit.sample`: a whole sampling run of the DiT (pipeline/latent_sampler.h), the image
// half of DuoGen without the VAE.
//   inputs   `noise` [1, C, 1, h, w] (x_T of the target frame), `hidden_states_all_layers`
//            [E, L, H], `negative_length` (int scalar: the negative branch sees the first
//            tokens), optional `condition.0` .. `condition.K-1` clean latents [1, C, 1, h_k, w_k]
//   metadata `sampler.steps`, `sampler.schedule` (linear_shift | karras), `sampler.shift`,
//            `sampler.solver` (unipc | euler), `sampler.guidance`, `sampler.network_time`
//            (timestep | sigma), `sampler.condition_timestep` (same | a number); optional
//            `sampler.cfg_formula` (cosmos | standard), `sampler.zero_negative` (0 | 1),
//            `sampler.batch_cfg` (1: both branches in one call, the default | 0: two calls)
//   output   `latent` x_0 [1, C, 1, h, w]
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>

#include "core/check.h"
#include "models/cosmos_dit/dit.h"
#include "pipeline/latent_sampler.h"
#include "verify/components.h"

namespace duogen::verify {
namespace {

namespace flow = sampling::flow;

const std::string kName = "cosmos_dit.sample";

double number(const ComponentContext& ctx, const std::string& key) {
  const std::string& text = require_metadata(ctx, key, kName);
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  DUOGEN_FAIL(FormatError, "{}: __metadata__ '{}' is not a number: '{}'", kName, key, text);
}

std::string choice(const ComponentContext& ctx, const std::string& key,
                   std::initializer_list<const char*> allowed, const char* fallback = nullptr) {
  const bool present = ctx.metadata.count(key) != 0;
  const std::string value = present || !fallback ? require_metadata(ctx, key, kName) : fallback;
  for (const char* a : allowed) {
    if (value == a) return value;
  }
  DUOGEN_FAIL(FormatError, "{}: __metadata__ '{}' has unknown value '{}'", kName, key, value);
}

pipeline::LatentSamplerOptions sampler_options(const ComponentContext& ctx) {
  pipeline::LatentSamplerOptions o;
  o.sampler.schedule.steps = static_cast<int>(number(ctx, "sampler.steps"));
  o.sampler.schedule.shift = number(ctx, "sampler.shift");
  o.sampler.schedule.kind = choice(ctx, "sampler.schedule", {"linear_shift", "karras"}) == "karras"
                                ? flow::ScheduleKind::kKarras
                                : flow::ScheduleKind::kLinearShift;
  o.sampler.solver = choice(ctx, "sampler.solver", {"unipc", "euler"}) == "euler"
                         ? flow::SolverKind::kEuler
                         : flow::SolverKind::kUniPC;
  o.sampler.cfg.guidance = number(ctx, "sampler.guidance");
  o.sampler.cfg.formula =
      choice(ctx, "sampler.cfg_formula", {"cosmos", "standard"}, "cosmos") == "standard"
          ? flow::CfgFormula::kStandard
          : flow::CfgFormula::kCosmos;
  o.network_time = choice(ctx, "sampler.network_time", {"timestep", "sigma"}) == "sigma"
                       ? flow::NetworkTime::kSigma
                       : flow::NetworkTime::kTimestep;
  o.batch_cfg = choice(ctx, "sampler.batch_cfg", {"0", "1"}, "1") == "1";
  if (require_metadata(ctx, "sampler.condition_timestep", kName) != "same") {
    o.frames.mode = flow::ConditionFrameTimestep::kFixed;
    o.frames.fixed_value = number(ctx, "sampler.condition_timestep");
  }
  return o;
}

TensorMap sample(const ComponentContext& ctx, const TensorMap& inputs) {
  c10::InferenceMode guard;
  const pipeline::LatentSamplerOptions options = sampler_options(ctx);
  const bool zero_negative = choice(ctx, "sampler.zero_negative", {"0", "1"}, "0") == "1";
  const at::Tensor& negative_length = require_input(inputs, "negative_length", kName);
  DUOGEN_CHECK(negative_length.numel() == 1 && !at::isFloatingType(negative_length.scalar_type()),
               FormatError, "{}: 'negative_length' must be one integer, got {} {}", kName,
               c10::toString(negative_length.scalar_type()), negative_length.sizes());
  std::vector<at::Tensor> conditions;
  for (std::size_t k = 0; inputs.count(fmt::format("condition.{}", k)) != 0; ++k) {
    conditions.push_back(inputs.at(fmt::format("condition.{}", k)).to(ctx.device));
  }

  cosmos_dit::DitOptions dit_options;
  dit_options.dtype = ctx.dtype;
  dit_options.device = ctx.device;
  const auto dit = cosmos_dit::CosmosDiT::load(ctx.model, dit_options);
  const pipeline::CfgContexts contexts = pipeline::prepare_cfg_contexts(
      dit, require_input(inputs, "hidden_states_all_layers", kName).to(ctx.device),
      negative_length.item<std::int64_t>(), zero_negative);
  const at::Tensor noise = require_input(inputs, "noise", kName).to(ctx.device);
  return {{"latent", pipeline::sample_latent(dit, contexts, conditions, noise, options).cpu()}};
}

}  // namespace

void register_sampling_components(std::map<std::string, Component>& registry) {
  registry[kName] = {"a whole CFG sampling run of the DiT from fixed noise (no VAE)", sample};
}

}  // namespace duogen::verify
