// The components `duogen verify` can run on a reference dump's inputs. The registry is explicit:
// build_component_registry() lists every component, one line each (style.md §6: no
// self-registering statics).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "verify/reference_dump.h"

namespace duogen::verify {

struct ComponentContext {
  std::filesystem::path model;  // checkpoint directory or file
  c10::ScalarType dtype = c10::kFloat;
  c10::Device device = c10::kCPU;
  // The dump's __metadata__: components with settings that are not tensors (a sampler's steps,
  // schedule, ...) read them from here.
  std::map<std::string, std::string> metadata;
};

using ComponentFn = std::function<TensorMap(const ComponentContext&, const TensorMap& inputs)>;

struct Component {
  std::string description;
  ComponentFn run;
};

std::map<std::string, Component> build_component_registry();

// The input `name` of a dump; throws FormatError naming the component if the dump lacks it.
const at::Tensor& require_input(const TensorMap& inputs, const std::string& name,
                                const std::string& component);

// The metadata value `key`; throws FormatError naming the component if the dump lacks it.
const std::string& require_metadata(const ComponentContext& ctx, const std::string& key,
                                    const std::string& component);

// Per-family registration functions, called by build_component_registry().
void register_qwen2_5_vl_components(std::map<std::string, Component>& registry);
void register_wan_vae_components(std::map<std::string, Component>& registry);
void register_cosmos_dit_components(std::map<std::string, Component>& registry);
void register_sampling_components(std::map<std::string, Component>& registry);
void register_cosmos_pipeline_components(std::map<std::string, Component>& registry);

}  // namespace duogen::verify
