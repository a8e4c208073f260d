#include "verify/components.h"

namespace duogen::verify {

std::map<std::string, Component> build_component_registry() {
  std::map<std::string, Component> registry;
  register_qwen2_5_vl_components(registry);
  register_wan_vae_components(registry);
  return registry;
}

}  // namespace duogen::verify
