// Generation settings a Qwen2.5-VL checkpoint carries besides config.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "models/qwen2_5_vl/config.h"

namespace duogen::qwen2_5_vl {

// The config's eos ids plus generation_config.json's (the hub lists <|endoftext|> there too), in
// that order without repeats. Throws FormatError naming the file for non-integer ids.
std::vector<std::int64_t> stop_token_ids(const std::filesystem::path& dir, const Config& config);

}  // namespace duogen::qwen2_5_vl
