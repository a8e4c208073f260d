// A diffusers pipeline directory as published on the Hugging Face Hub: `model_index.json` names
// the pipeline class and, per component, the library and class that saved it into the
// subdirectory of the same name (transformer/, vae/, text_encoder/, tokenizer/, scheduler/).
//
//   auto snapshot = io::read_pipeline_snapshot("Cosmos-Predict2.5-2B");
//   const auto& dit = snapshot.component("transformer");   // dit.dir, dit.class_name
//
// Also accepted: a Hugging Face cache repository directory (`models--org--name`, holding refs/
// and snapshots/<revision>/ whose files are symlinks into blobs/); the revision `refs/main`
// names is used, or the only one there is.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace duogen::io {

struct SnapshotComponent {
  std::string name;        // the model_index.json key, also the subdirectory name
  std::string library;     // "diffusers", "transformers", ...
  std::string class_name;  // e.g. "CosmosTransformer3DModel"
  std::filesystem::path dir;
};

struct PipelineSnapshot {
  std::filesystem::path root;                           // the directory holding model_index.json
  std::filesystem::path index_file;                     // root / "model_index.json"
  std::string class_name;                               // model_index.json `_class_name`
  std::string diffusers_version;                        // `_diffusers_version`, empty when absent
  std::map<std::string, SnapshotComponent> components;  // the non-null entries

  bool has(const std::string& name) const { return components.count(name) != 0; }
  // Throws FormatError naming model_index.json when the component is missing or null.
  const SnapshotComponent& component(const std::string& name) const;
  // component(name) after checking its class; throws FormatError naming both classes.
  const SnapshotComponent& component(const std::string& name,
                                     const std::string& expected_class) const;
};

// The directory holding model_index.json for `path` (itself, or a cache repository's snapshot
// revision), or nullopt when `path` is not a pipeline snapshot at all.
std::optional<std::filesystem::path> find_pipeline_snapshot(const std::filesystem::path& path);

// Reads the snapshot at `path` (see find_pipeline_snapshot). Throws IoError when there is none,
// FormatError naming the file and key for a malformed model_index.json or a component entry
// whose directory does not exist.
PipelineSnapshot read_pipeline_snapshot(const std::filesystem::path& path);

}  // namespace duogen::io
