#include "io/weight_loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/check.h"

namespace duogen::io {
namespace {

bool shape_matches(c10::IntArrayRef actual, c10::IntArrayRef expected) {
  if (actual.size() != expected.size()) return false;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (expected[i] != kAnySize && expected[i] != actual[i]) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

std::string to_canonical_name(const std::string& name, const std::vector<PrefixAlias>& aliases) {
  for (const auto& a : aliases) {
    if (name.starts_with(a.alternative)) return a.canonical + name.substr(a.alternative.size());
  }
  return name;
}

std::string to_alternative_name(const std::string& name, const std::vector<PrefixAlias>& aliases) {
  for (const auto& a : aliases) {
    if (name.starts_with(a.canonical)) return a.alternative + name.substr(a.canonical.size());
  }
  return name;
}

WeightStore::WeightStore(std::shared_ptr<const Checkpoint> checkpoint, WeightLoadOptions options)
    : checkpoint_(std::move(checkpoint)), options_(std::move(options)) {
  DUOGEN_CHECK(checkpoint_ != nullptr, InvalidArgument, "WeightStore needs a checkpoint");
  for (const auto& name : checkpoint_->names()) {
    std::string canonical = to_canonical_name(name, options_.aliases);
    auto [it, inserted] = actual_name_.emplace(canonical, name);
    DUOGEN_CHECK(inserted, FormatError, "{}: tensors '{}' and '{}' both stand for '{}'",
                 checkpoint_->describe(), it->second, name, canonical);
  }
}

WeightStore WeightStore::materializing(WeightInitializer init, WeightLoadOptions options) {
  DUOGEN_CHECK(init != nullptr, InvalidArgument, "a materialising WeightStore needs an initializer");
  WeightStore store;
  store.init_ = std::move(init);
  store.options_ = std::move(options);
  return store;
}

const Checkpoint& WeightStore::checkpoint() const {
  DUOGEN_CHECK(checkpoint_ != nullptr, InvalidArgument,
               "a materialising WeightStore has no checkpoint");
  return *checkpoint_;
}

std::string WeightStore::describe() const {
  return checkpoint_ ? checkpoint_->describe() : std::string("(materialised weights)");
}

WeightView WeightStore::root() { return WeightView(this, ""); }

bool WeightStore::contains(const std::string& canonical) const {
  return actual_name_.find(canonical) != actual_name_.end();
}

at::Tensor WeightStore::fetch(const std::string& name, c10::IntArrayRef shape,
                              std::optional<c10::ScalarType> require_dtype, bool required) {
  if (init_) {
    if (!required) return {};
    if (std::find(shape.begin(), shape.end(), kAnySize) != shape.end()) {
      problems_.push_back(fmt::format("tensor '{}': cannot materialise shape [{}] with a "
                                      "wildcard", name, fmt::join(shape, ", ")));
      return {};
    }
    at::Tensor t = init_(name, shape);
    DUOGEN_CHECK(t.defined() && t.sizes() == shape, InvalidArgument,
                 "weight initializer returned the wrong shape for '{}'", name);
    if (require_dtype) t = t.to(*require_dtype);
    if (options_.dtype && at::isFloatingType(t.scalar_type())) t = t.to(*options_.dtype);
    t = t.to(options_.device);
    materialized_.emplace_back(name, t);
    return t;
  }
  auto it = actual_name_.find(name);
  if (it == actual_name_.end()) {
    if (required) problems_.push_back(fmt::format("missing tensor '{}'", name));
    return {};
  }
  used_.insert(name);
  const TensorInfo& info = checkpoint_->info(it->second);
  if (!shape_matches(info.shape, shape)) {
    problems_.push_back(fmt::format("tensor '{}' has shape {} but the model expects {}",
                                    it->second, fmt::join(info.shape, ", "),
                                    fmt::join(shape, ", ")));
    return {};
  }
  const c10::ScalarType stored = to_scalar_type(info.dtype);
  if (require_dtype && stored != *require_dtype) {
    problems_.push_back(fmt::format("tensor '{}' has dtype {} but the model expects {}",
                                    it->second, c10::toString(stored),
                                    c10::toString(*require_dtype)));
    return {};
  }
  at::Tensor t = checkpoint_->tensor(it->second);
  c10::ScalarType target = stored;
  if (options_.dtype && is_floating(info.dtype)) target = *options_.dtype;
  if (target != stored || options_.device != t.device()) {
    // One conversion straight from the mapped data to the target dtype and device; the mapped
    // pages are then dropped, so the file and the converted copy are not both resident.
    t = t.to(options_.device, target);
    checkpoint_->release(it->second);
  }
  return t;
}

std::vector<std::string> WeightStore::unused() const {
  std::vector<std::string> out;
  for (const auto& [canonical, actual] : actual_name_) {
    if (used_.count(canonical)) continue;
    const bool ignored = std::any_of(options_.ignored_suffixes.begin(),
                                     options_.ignored_suffixes.end(),
                                     [&](const std::string& s) { return actual.ends_with(s); });
    if (!ignored) out.push_back(actual);
  }
  return out;
}

void WeightStore::finish(std::string_view what, bool report_unused) const {
  const auto unused_names = unused();
  if (report_unused && !unused_names.empty()) {
    // The first few at warn level keep the log readable; the full list is there at debug level.
    constexpr std::size_t kShown = 8;
    std::vector<std::string> shown(unused_names.begin(),
                                   unused_names.begin() + std::min(kShown, unused_names.size()));
    spdlog::warn("{}: {} checkpoint tensor(s) unused by {}: {}{}", describe(),
                 unused_names.size(), what, join(shown, ", "),
                 unused_names.size() > kShown ? ", ..." : "");
    spdlog::debug("{}: all unused tensors: {}", describe(), join(unused_names, ", "));
  }
  DUOGEN_CHECK(problems_.empty(), WeightError, "{}: the weights do not fit {} ({} problem(s)):\n  {}",
               describe(), what, problems_.size(), join(problems_, "\n  "));
}

WeightView WeightView::sub(std::string_view name) const {
  return WeightView(store_, full_name(name) + ".");
}

std::string WeightView::full_name(std::string_view name) const {
  return prefix_ + std::string(name);
}

at::Tensor WeightView::get(std::string_view name, c10::IntArrayRef shape,
                           std::optional<c10::ScalarType> require_dtype) const {
  return store_->fetch(full_name(name), shape, require_dtype, /*required=*/true);
}

at::Tensor WeightView::get_optional(std::string_view name, c10::IntArrayRef shape,
                                    std::optional<c10::ScalarType> require_dtype) const {
  return store_->fetch(full_name(name), shape, require_dtype, /*required=*/false);
}

bool WeightView::contains(std::string_view name) const {
  return store_->contains(full_name(name));
}

}  // namespace duogen::io
