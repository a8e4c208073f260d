#include "verify/components.h"

#include "core/check.h"

namespace duogen::verify {

const at::Tensor& require_input(const TensorMap& inputs, const std::string& name,
                                const std::string& component) {
  auto it = inputs.find(name);
  DUOGEN_CHECK(it != inputs.end(), FormatError, "{}: the dump has no input '{}'", component, name);
  return it->second;
}

const std::string& require_metadata(const ComponentContext& ctx, const std::string& key,
                                    const std::string& component) {
  auto it = ctx.metadata.find(key);
  DUOGEN_CHECK(it != ctx.metadata.end(), FormatError, "{}: the dump's __metadata__ has no '{}'",
               component, key);
  return it->second;
}

std::map<std::string, Component> build_component_registry() {
  std::map<std::string, Component> registry;
  register_qwen2_5_vl_components(registry);
  register_wan_vae_components(registry);
  register_cosmos_dit_components(registry);
  register_sampling_components(registry);
  register_cosmos_pipeline_components(registry);
  return registry;
}

}  // namespace duogen::verify
