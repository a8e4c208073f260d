// The job types are public (duogen/job.h); this adds what the pipeline needs beyond them:
// the options object of duogen.json and option merging.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "duogen/job.h"

namespace duogen::pipeline {

using duogen::ContentPart;
using duogen::Job;
using duogen::JobOptions;
using duogen::Message;
using duogen::check_options;
using duogen::is_valid_job_id;
using duogen::parse_job;
using duogen::read_job_file;

// Parses an object holding only job options (duogen.json's "defaults"); errors name `source`.
JobOptions parse_options_object(const nlohmann::json& object, const std::string& source);

// Merges `overrides` over `base`: every field set in `overrides` wins; logit biases are
// concatenated (later entries for the same token win when applied).
JobOptions merge_options(const JobOptions& base, const JobOptions& overrides);

}  // namespace duogen::pipeline
