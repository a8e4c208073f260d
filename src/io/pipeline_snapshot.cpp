#include "io/pipeline_snapshot.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/check.h"
#include "io/json_config.h"
#include "io/pickle_checkpoint.h"

namespace duogen::io {
namespace fs = std::filesystem;
namespace {

constexpr const char* kIndexName = "model_index.json";

// A Hugging Face cache repository: refs/main holds the revision hash of snapshots/<hash>/.
std::optional<fs::path> cache_revision(const fs::path& repo) {
  const fs::path snapshots = repo / "snapshots";
  if (!fs::is_directory(snapshots)) return std::nullopt;
  std::ifstream ref(repo / "refs" / "main");
  std::string revision;
  if (ref && std::getline(ref, revision) && !revision.empty() &&
      fs::is_regular_file(snapshots / revision / kIndexName)) {
    return snapshots / revision;
  }
  std::vector<fs::path> candidates;
  for (const auto& entry : fs::directory_iterator(snapshots)) {
    if (fs::is_regular_file(entry.path() / kIndexName)) candidates.push_back(entry.path());
  }
  DUOGEN_CHECK(candidates.size() <= 1, FormatError,
               "{}: a Hugging Face cache with {} snapshot revisions and no usable refs/main; pass "
               "the revision directory (snapshots/<revision>) itself",
               repo.string(), candidates.size());
  if (candidates.empty()) return std::nullopt;
  return candidates.front();
}

}  // namespace

std::optional<fs::path> find_pipeline_snapshot(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return std::nullopt;
  if (fs::is_regular_file(path / kIndexName, ec)) return path;
  return cache_revision(path);
}

const SnapshotComponent& PipelineSnapshot::component(const std::string& name) const {
  const auto it = components.find(name);
  DUOGEN_CHECK(it != components.end(), FormatError,
               "{}: the pipeline has no '{}' component (model_index.json lists: {})",
               index_file.string(), name, [&] {
                 std::string names;
                 for (const auto& [key, _] : components) names += (names.empty() ? "" : ", ") + key;
                 return names.empty() ? std::string("none") : names;
               }());
  return it->second;
}

const SnapshotComponent& PipelineSnapshot::component(const std::string& name,
                                                     const std::string& expected_class) const {
  const SnapshotComponent& c = component(name);
  DUOGEN_CHECK(c.class_name == expected_class, FormatError,
               "{}: '{}' is a {} ({}); duogen runs a {} there", index_file.string(), name,
               c.class_name, c.library, expected_class);
  return c;
}

PipelineSnapshot read_pipeline_snapshot(const fs::path& path) {
  DUOGEN_CHECK(fs::exists(path), IoError, "{}: no such file or directory", path.string());
  // An original release file given as the model: say what it is and which converter to run.
  if (std::optional<std::string> pickle = pickle_checkpoint_error(path)) {
    DUOGEN_FAIL(FormatError,
                "{} (tools/convert/assemble_cosmos_snapshot.py builds a whole snapshot)", *pickle);
  }
  const std::optional<fs::path> root = find_pipeline_snapshot(path);
  DUOGEN_CHECK(root.has_value(), IoError,
               "{}: not a diffusers pipeline snapshot (no {}, and not a Hugging Face cache "
               "repository with one)",
               path.string(), kIndexName);
  PipelineSnapshot s;
  s.root = *root;
  s.index_file = *root / kIndexName;
  const JsonObject index = JsonObject::from_file(s.index_file);
  DUOGEN_CHECK(index.json().is_object(), FormatError, "{}: expected a JSON object",
               s.index_file.string());
  s.class_name = index.require<std::string>("_class_name");
  s.diffusers_version = index.get<std::string>("_diffusers_version", "");
  for (const auto& [key, value] : index.json().items()) {
    if (!key.empty() && key.front() == '_') continue;  // _class_name, _diffusers_version, ...
    // [library, class]; [null, null] marks an optional component that was not saved.
    DUOGEN_CHECK(value.is_array() && value.size() == 2, FormatError,
                 "{}: '{}' must be a [library, class] pair, got {}", s.index_file.string(), key,
                 value.dump());
    if (value[0].is_null() && value[1].is_null()) continue;
    DUOGEN_CHECK(value[0].is_string() && value[1].is_string(), FormatError,
                 "{}: '{}' must be a pair of strings or nulls, got {}", s.index_file.string(), key,
                 value.dump());
    SnapshotComponent c{key, value[0].get<std::string>(), value[1].get<std::string>(), *root / key};
    DUOGEN_CHECK(fs::is_directory(c.dir), FormatError,
                 "{}: component '{}' ({}) has no directory {}", s.index_file.string(), key,
                 c.class_name, c.dir.string());
    s.components.emplace(key, std::move(c));
  }
  return s;
}

}  // namespace duogen::io
