#include "models/qwen2_5_vl/weights.h"

namespace duogen::qwen2_5_vl {

io::WeightLoadOptions weight_load_options(std::optional<c10::ScalarType> dtype,
                                          c10::Device device) {
  io::WeightLoadOptions options;
  options.dtype = dtype;
  options.device = device;
  // Order matters: the longer alternative prefix must be tried before any shorter one.
  options.aliases = {{"model.", "model.language_model."}, {"visual.", "model.visual."}};
  options.ignored_suffixes = {".rotary_emb.inv_freq"};
  return options;
}

}  // namespace duogen::qwen2_5_vl
