#include "sampling/flow/diffusers_scheduler.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "core/check.h"
#include "io/json_config.h"

namespace duogen::sampling::flow {
namespace {

// Keys the flow-sigma paths of UniPCMultistepScheduler.set_timesteps/step never read (diffusers
// 0.42.1, schedulers/scheduling_unipc_multistep.py), accepted whatever their value:
//  - beta_start, beta_end, beta_schedule, trained_betas, rescale_betas_zero_snr: they only build
//    alphas_cumprod, which the flow paths use neither for sigmas (Karras takes sigma_min and
//    sigma_max from the config, required here; the linear path is a linspace) nor for steps;
//  - timestep_spacing, steps_offset: the timesteps they make are overwritten by both flow paths;
//  - dynamic_thresholding_ratio, sample_max_value: only with thresholding (refused when true);
//  - time_shift_type: only with use_dynamic_shifting (refused when true);
//  - _class_name is checked; _diffusers_version and _name_or_path are provenance.
const std::set<std::string_view> kUnreadInFlowMode = {"beta_start",
                                                      "beta_end",
                                                      "beta_schedule",
                                                      "trained_betas",
                                                      "rescale_betas_zero_snr",
                                                      "timestep_spacing",
                                                      "steps_offset",
                                                      "dynamic_thresholding_ratio",
                                                      "sample_max_value",
                                                      "time_shift_type",
                                                      "_class_name",
                                                      "_diffusers_version",
                                                      "_name_or_path"};

// Keys read below; anything else is an error (a newer diffusers option we do not know).
const std::set<std::string_view> kRead = {"num_train_timesteps",
                                          "solver_order",
                                          "prediction_type",
                                          "thresholding",
                                          "predict_x0",
                                          "solver_type",
                                          "lower_order_final",
                                          "disable_corrector",
                                          "solver_p",
                                          "use_karras_sigmas",
                                          "use_exponential_sigmas",
                                          "use_beta_sigmas",
                                          "use_flow_sigmas",
                                          "flow_shift",
                                          "final_sigmas_type",
                                          "use_dynamic_shifting",
                                          "sigma_min",
                                          "sigma_max",
                                          "shift_terminal"};

template <class T>
void require_value(const io::JsonObject& config,
                   std::string_view key,
                   const T& supported,
                   const T& fallback,
                   std::string_view why) {
  const T value = config.get<T>(key, fallback);
  DUOGEN_CHECK(value == supported, FormatError, "{}: '{}' = {} is not supported ({})",
               config.file(), key, nlohmann::json(value).dump(), why);
}

}  // namespace

DiffusersScheduler read_diffusers_scheduler(const std::filesystem::path& file) {
  const io::JsonObject config = io::JsonObject::from_file(file);
  DUOGEN_CHECK(config.json().is_object(), FormatError, "{}: expected a JSON object", file.string());
  for (const auto& [key, _] : config.json().items()) {
    DUOGEN_CHECK(kRead.count(key) || kUnreadInFlowMode.count(key), FormatError,
                 "{}: unknown scheduler key '{}'", file.string(), key);
  }
  DiffusersScheduler s;
  s.file = file;
  s.class_name = config.require<std::string>("_class_name");
  DUOGEN_CHECK(s.class_name == "UniPCMultistepScheduler", FormatError,
               "{}: '_class_name' = \"{}\": duogen runs the Cosmos pipelines' "
               "UniPCMultistepScheduler (flow matching) only",
               file.string(), s.class_name);
  s.num_train_timesteps = config.get<int>("num_train_timesteps", 1000);
  DUOGEN_CHECK(s.num_train_timesteps >= 1, FormatError,
               "{}: 'num_train_timesteps' must be positive, got {}", file.string(),
               s.num_train_timesteps);

  // The flow-matching mode and the x0-predicting UniPC the sampler implements.
  require_value<std::string>(config, "prediction_type", "flow_prediction", "epsilon",
                             "the Cosmos DiT predicts a flow velocity");
  require_value<bool>(config, "use_flow_sigmas", true, false, "only flow-matching sigmas");
  require_value<bool>(config, "predict_x0", true, true, "UniPC runs on x0-predictions");
  require_value<bool>(config, "thresholding", false, false, "no dynamic thresholding");
  require_value<bool>(config, "use_exponential_sigmas", false, false,
                      "Karras or linear flow sigmas only");
  require_value<bool>(config, "use_beta_sigmas", false, false, "Karras or linear flow sigmas only");
  require_value<bool>(config, "use_dynamic_shifting", false, false,
                      "no resolution-dependent shift");
  require_value<std::string>(config, "final_sigmas_type", "zero", "zero",
                             "the schedule ends at sigma 0");
  DUOGEN_CHECK(!config.has("shift_terminal"), FormatError, "{}: 'shift_terminal' is not supported",
               file.string());
  DUOGEN_CHECK(!config.has("solver_p"), FormatError,
               "{}: 'solver_p' (a second solver) is not supported", file.string());

  const int order = config.get<int>("solver_order", 2);
  DUOGEN_CHECK(order == 1 || order == 2, FormatError,
               "{}: 'solver_order' = {} is not supported (1 or 2)", file.string(), order);
  s.unipc.order = order;
  const std::string type = config.get<std::string>("solver_type", "bh2");
  DUOGEN_CHECK(type == "bh1" || type == "bh2", FormatError,
               "{}: 'solver_type' must be \"bh1\" or \"bh2\", got \"{}\"", file.string(), type);
  s.unipc.variant = type == "bh1" ? UniPcVariant::kBh1 : UniPcVariant::kBh2;
  s.unipc.lower_order_final = config.get<bool>("lower_order_final", true);
  s.unipc.disable_corrector = config.get<std::vector<int>>("disable_corrector", {});

  s.karras = config.get<bool>("use_karras_sigmas", false);
  s.flow_shift = config.get<double>("flow_shift", 1.0);
  DUOGEN_CHECK(s.flow_shift > 0.0 && std::isfinite(s.flow_shift), FormatError,
               "{}: 'flow_shift' must be positive, got {}", file.string(), s.flow_shift);
  if (s.karras) {
    // Without both, diffusers derives the range from the beta schedule; no Cosmos config does.
    DUOGEN_CHECK(config.has("sigma_min") && config.has("sigma_max"), FormatError,
                 "{}: 'use_karras_sigmas' needs explicit 'sigma_min' and 'sigma_max'",
                 file.string());
    s.sigma_min = config.require<double>("sigma_min");
    s.sigma_max = config.require<double>("sigma_max");
    DUOGEN_CHECK(s.sigma_min > 0.0 && s.sigma_min < s.sigma_max && std::isfinite(s.sigma_max),
                 FormatError, "{}: need 0 < 'sigma_min' < 'sigma_max', got {} and {}",
                 file.string(), s.sigma_min, s.sigma_max);
  } else {
    // The linear flow path reads neither; a value there would be silently ignored.
    DUOGEN_CHECK(!config.has("sigma_min") && !config.has("sigma_max"), FormatError,
                 "{}: 'sigma_min'/'sigma_max' only apply with 'use_karras_sigmas': true",
                 file.string());
  }
  return s;
}

FlowSchedule diffusers_schedule(const DiffusersScheduler& s, int num_inference_steps) {
  if (s.karras) {
    // Karras over n points (numpy.linspace(0, 1, n) ramp), sigma / (1 + sigma): make_schedule's
    // kKarras with n - 1 intervals.
    DUOGEN_CHECK(num_inference_steps >= 2, InvalidArgument,
                 "{}: Karras sigmas need at least 2 inference steps, got {}", s.file.string(),
                 num_inference_steps);
    ScheduleOptions o;
    o.kind = ScheduleKind::kKarras;
    o.steps = num_inference_steps - 1;
    o.num_train_timesteps = s.num_train_timesteps;
    o.karras_sigma_min = s.sigma_min;
    o.karras_sigma_max = s.sigma_max;
    return make_schedule(o);
  }
  DUOGEN_CHECK(num_inference_steps >= 1, InvalidArgument,
               "{}: need at least 1 inference step, got {}", s.file.string(), num_inference_steps);
  // np.linspace(1, 1 / N, n + 1)[:-1], shifted, the first entry pulled off 1 by 1e-6.
  const int n = num_inference_steps;
  const double start = 1.0, stop = 1.0 / s.num_train_timesteps;
  const double step = (stop - start) / n;
  FlowSchedule schedule;
  schedule.num_train_timesteps = s.num_train_timesteps;
  for (int k = 0; k < n; ++k) {
    double sigma = start + k * step;  // numpy.linspace: start + k * step
    sigma = s.flow_shift * sigma / (1.0 + (s.flow_shift - 1.0) * sigma);
    if (k == 0 && std::fabs(sigma - 1.0) < 1e-6) sigma -= 1e-6;
    schedule.timesteps.push_back(
        static_cast<std::int64_t>(sigma * static_cast<double>(s.num_train_timesteps)));
    schedule.sigmas.push_back(static_cast<float>(sigma));
  }
  schedule.sigmas.push_back(0.0F);
  return schedule;
}

}  // namespace duogen::sampling::flow
