// Precompiled header: the heavy, stable headers that most translation units include.
// (All of <ATen/ATen.h> was tried and costs more to load than it saves.)
#pragma once

#include <ATen/core/Tensor.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
