#include "runtime/weight_census.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "io/weight_loader.h"
#include "models/cosmos_dit/dit.h"
#include "models/qwen2_5_vl/model.h"
#include "models/qwen2_5_vl/vision.h"
#include "models/wan_vae/vae.h"

namespace duogen::runtime {
namespace {

namespace fs = std::filesystem;

// A store that answers every request with a storage-less meta tensor of the requested shape.
io::WeightStore meta_store() {
  io::WeightLoadOptions options;
  options.device = c10::Device(c10::kMeta);
  return io::WeightStore::materializing(
      [](const std::string&, c10::IntArrayRef shape) {
        return at::empty(shape, at::TensorOptions().dtype(at::kFloat).device(c10::kMeta));
      },
      options);
}

WeightCensus census_materialized(const io::WeightStore& store,
                                 const PartOf& part_of,
                                 std::string_view what) {
  WeightCensus census;
  census.source = fmt::format("{} config only, no weights on disk", what);
  census.from_config = true;
  // Every weight the loaders request is floating (the materialised tensors carry the dtype the
  // model asked for, so an integer request would show here as such).
  for (const auto& [name, t] : store.materialized()) {
    census.add(part_of(name), t.numel(), from_scalar_type(t.scalar_type()));
  }
  return census;
}

}  // namespace

std::int64_t WeightCensus::parameters() const {
  std::int64_t n = 0;
  for (const auto& [name, part] : parts) n += part.floating + part.fixed;
  return n;
}

std::uint64_t WeightCensus::part_bytes(const std::string& name, c10::ScalarType dtype) const {
  const auto it = parts.find(name);
  if (it == parts.end()) return 0;
  return static_cast<std::uint64_t>(it->second.floating) * c10::elementSize(dtype) +
         it->second.fixed_bytes;
}

std::uint64_t WeightCensus::bytes(c10::ScalarType dtype) const {
  std::uint64_t n = 0;
  for (const auto& [name, part] : parts) n += part_bytes(name, dtype);
  return n;
}

void WeightCensus::add(const std::string& part, std::int64_t numel, DType stored) {
  PartCensus& p = parts[part];
  if (is_floating(stored)) {
    p.floating += numel;
  } else {
    p.fixed += numel;
    p.fixed_bytes += static_cast<std::uint64_t>(numel) * element_size(stored);
  }
}

WeightCensus census_checkpoint(const io::Checkpoint& checkpoint, const PartOf& part_of) {
  WeightCensus census;
  census.source = fmt::format("checkpoint headers: {}", checkpoint.describe());
  for (const auto& file : checkpoint.files()) {
    for (const auto& info : file.tensors())
      census.add(part_of(info.name), info.numel(), info.dtype);
  }
  return census;
}

bool has_weights(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path.extension() == ".safetensors";
  if (!fs::is_directory(path, ec)) return false;
  if (fs::exists(path / io::kIndexFileName, ec) ||
      fs::exists(path / io::kDiffusersIndexFileName, ec)) {
    return true;
  }
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".safetensors") return true;
  }
  return false;
}

std::string qwen_part(const std::string& name) {
  if (name.starts_with("visual.") || name.starts_with("model.visual.")) return "vision";
  return name == "lm_head.weight" ? "head" : "text";
}

std::string dit_part(const std::string& name) {
  return name.find("crossattn_proj.") != std::string::npos ? "connector" : "dit";
}

WeightCensus census_qwen_config(const qwen2_5_vl::Config& config) {
  c10::InferenceMode guard;
  auto store = meta_store();
  qwen2_5_vl::ModelOptions options;
  options.device = c10::Device(c10::kMeta);
  qwen2_5_vl::Model::from_weights(config, options, store);
  qwen2_5_vl::VisionTower vision(config.vision, store.root().sub("visual"));
  return census_materialized(store, qwen_part, "Qwen2.5-VL");
}

WeightCensus census_dit_config(const cosmos_dit::Config& config) {
  c10::InferenceMode guard;
  auto store = meta_store();
  cosmos_dit::DitOptions options;
  options.device = c10::Device(c10::kMeta);
  cosmos_dit::CosmosDiT::from_weights(config, options, store);
  return census_materialized(store, dit_part, "Cosmos DiT");
}

WeightCensus census_vae_config(const wan_vae::Config& config) {
  c10::InferenceMode guard;
  auto store = meta_store();
  wan_vae::VAEOptions options;
  options.device = c10::Device(c10::kMeta);
  wan_vae::WanVAE::from_weights(config, options, store, wan_vae::Layout::kDiffusers);
  return census_materialized(
      store, [](const std::string&) { return std::string("vae"); }, "Wan VAE");
}

}  // namespace duogen::runtime
