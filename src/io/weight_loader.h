// Prefix-scoped, shape-checked weight loading with a complete report.
//
//   io::WeightStore store(checkpoint, options);
//   auto layer = store.root().sub("model.layers.0");
//   at::Tensor w = layer.get("self_attn.q_proj.weight", {3584, 3584});
//   ...
//   store.finish("Qwen2.5-VL");  // one WeightError listing every missing/mismatched tensor;
//                                // a warning listing checkpoint tensors nobody asked for
//
// Names are Hugging Face's, verbatim. Alternative layouts of the same model (e.g. the
// `model.language_model.*` names newer transformers save) are prefix aliases resolved once when
// the store is built, so model code only ever asks for the canonical names.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "io/checkpoint.h"

namespace duogen::io {

// A checkpoint name starting with `alternative` is treated as `canonical` + the rest.
struct PrefixAlias {
  std::string canonical;    // e.g. "model."
  std::string alternative;  // e.g. "model.language_model."
};

// A checkpoint name in the canonical layout (the first alias whose alternative prefix matches
// is applied; names outside every alias are unchanged), and the reverse.
std::string to_canonical_name(const std::string& name, const std::vector<PrefixAlias>& aliases);
std::string to_alternative_name(const std::string& name, const std::vector<PrefixAlias>& aliases);

struct WeightLoadOptions {
  // Floating-point tensors are converted to this dtype (integer/bool tensors never are).
  std::optional<c10::ScalarType> dtype;
  c10::Device device = c10::kCPU;
  std::vector<PrefixAlias> aliases;
  // Checkpoint names ending in one of these are never reported as unused (e.g. buffers that
  // some exporters save, like ".rotary_emb.inv_freq").
  std::vector<std::string> ignored_suffixes;
};

// Shape wildcard for WeightView::get: any size in this dimension.
inline constexpr std::int64_t kAnySize = -1;

class WeightView;

// Makes the tensor a model asks for when a store materialises weights instead of loading them.
using WeightInitializer =
    std::function<at::Tensor(const std::string& name, c10::IntArrayRef shape)>;

class WeightStore {
 public:
  // Throws FormatError if two checkpoint names resolve to the same canonical name.
  WeightStore(std::shared_ptr<const Checkpoint> checkpoint, WeightLoadOptions options);

  // A store with no checkpoint that answers every required get() with `init(name, shape)` and
  // records the result: building a model on it yields exactly the tensors the model needs, under
  // its canonical names (how `duogen init-tiny` writes random-weight checkpoints). Optional
  // tensors are absent and contains() is false; a kAnySize dimension is a problem.
  static WeightStore materializing(WeightInitializer init, WeightLoadOptions options = {});
  // The tensors a materialising store made, in request order.
  const std::vector<std::pair<std::string, at::Tensor>>& materialized() const {
    return materialized_;
  }

  WeightView root();
  // Throws WeightError listing every problem recorded so far (missing tensors, shape or dtype
  // mismatches), naming `what` and the checkpoint; warns with the list of unused tensors unless
  // the caller loads a part of the checkpoint on purpose (report_unused = false).
  void finish(std::string_view what, bool report_unused = true) const;

  const std::vector<std::string>& problems() const { return problems_; }
  // Canonical names of checkpoint tensors not requested (ignored suffixes excluded), sorted.
  std::vector<std::string> unused() const;
  bool contains(const std::string& canonical) const;
  // The checkpoint read (InvalidArgument for a materialising store).
  const Checkpoint& checkpoint() const;

 private:
  friend class WeightView;
  at::Tensor fetch(const std::string& name, c10::IntArrayRef shape,
                   std::optional<c10::ScalarType> require_dtype, bool required);

  WeightStore() = default;
  std::string describe() const;

  std::shared_ptr<const Checkpoint> checkpoint_;
  WeightInitializer init_;
  std::vector<std::pair<std::string, at::Tensor>> materialized_;
  WeightLoadOptions options_;
  std::map<std::string, std::string, std::less<>> actual_name_;  // canonical -> checkpoint
  std::set<std::string, std::less<>> used_;
  std::vector<std::string> problems_;
};

class WeightView {
 public:
  // A view whose names are prefixed with this view's prefix + `name` + ".".
  WeightView sub(std::string_view name) const;
  // A required tensor of exactly `shape` (kAnySize matches any extent). On the CPU in the
  // checkpoint's own dtype it is a view of the mapped file (nothing is copied); otherwise it is
  // converted once and the mapped pages are dropped (Checkpoint::release). On a problem it is
  // recorded for WeightStore::finish and an undefined tensor is returned.
  at::Tensor get(std::string_view name, c10::IntArrayRef shape,
                 std::optional<c10::ScalarType> require_dtype = std::nullopt) const;
  // Like get, but absence is not a problem (returns an undefined tensor).
  at::Tensor get_optional(std::string_view name, c10::IntArrayRef shape,
                          std::optional<c10::ScalarType> require_dtype = std::nullopt) const;
  bool contains(std::string_view name) const;
  const std::string& prefix() const { return prefix_; }

 private:
  friend class WeightStore;
  WeightView(WeightStore* store, std::string prefix) : store_(store), prefix_(std::move(prefix)) {}
  std::string full_name(std::string_view name) const;

  WeightStore* store_;
  std::string prefix_;  // "" or ends with "."
};

}  // namespace duogen::io
