// A diffusers scheduler config (`scheduler/scheduler_config.json` of a pipeline snapshot) as the
// flow sampler's schedule and solver. Only what the Cosmos-Predict2.5 pipelines publish is
// supported: `UniPCMultistepScheduler` in its flow-matching mode (use_flow_sigmas,
// prediction_type "flow_prediction"), with Karras sigmas (the published config) or the shifted
// linear flow sigmas. Every key is honoured, refused with an error naming the file and key, or
// listed in diffusers_scheduler.cpp as one the flow mode never reads.
//
// diffusers counts `num_inference_steps` model evaluations; set_timesteps(n) makes n sigmas and
// a final 0, exactly as schedule() does here.
#pragma once

#include <filesystem>
#include <string>

#include "sampling/flow/schedule.h"
#include "sampling/flow/stepper.h"

namespace duogen::sampling::flow {

struct DiffusersScheduler {
  std::filesystem::path file;
  std::string class_name;  // UniPCMultistepScheduler
  int num_train_timesteps = 1000;
  UniPcOptions unipc;      // solver_order, solver_type, lower_order_final, disable_corrector
  bool karras = false;     // use_karras_sigmas
  double sigma_min = 0.0;  // Karras EDM range (required with use_karras_sigmas)
  double sigma_max = 0.0;
  double flow_shift = 1.0;  // the linear flow sigmas' shift (without Karras)
};

// Reads and checks a scheduler_config.json. Throws IoError / FormatError naming the file and key.
DiffusersScheduler read_diffusers_scheduler(const std::filesystem::path& file);

// The sigma table of set_timesteps(num_inference_steps): num_inference_steps evaluations.
// Throws InvalidArgument for fewer steps than the configuration can make (Karras needs 2).
FlowSchedule diffusers_schedule(const DiffusersScheduler& scheduler, int num_inference_steps);

}  // namespace duogen::sampling::flow
