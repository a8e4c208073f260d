#include "runtime/residency.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"
#include "runtime/byte_size.h"

namespace duogen::runtime {

ResidencyManager::ResidencyManager(std::uint64_t budget_bytes, std::unique_ptr<MoveEngine> engine)
    : budget_(budget_bytes),
      engine_(engine ? std::move(engine) : std::make_unique<SynchronousMoveEngine>()) {}

void ResidencyManager::add(const std::string& name,
                           std::uint64_t bytes,
                           std::shared_ptr<Movable> component) {
  DUOGEN_CHECK(component != nullptr, InvalidArgument, "residency: component '{}' is null", name);
  DUOGEN_CHECK(!entries_.contains(name), InvalidArgument,
               "residency: component '{}' is already registered", name);
  Entry e;
  e.bytes = bytes;
  e.component = std::move(component);
  entries_.emplace(name, std::move(e));
}

ResidencyManager::Entry& ResidencyManager::entry(const std::string& name) {
  const auto it = entries_.find(name);
  DUOGEN_CHECK(it != entries_.end(), InvalidArgument, "residency: no component named '{}'", name);
  return it->second;
}

const ResidencyManager::Entry& ResidencyManager::entry(const std::string& name) const {
  const auto it = entries_.find(name);
  DUOGEN_CHECK(it != entries_.end(), InvalidArgument, "residency: no component named '{}'", name);
  return it->second;
}

std::string ResidencyManager::describe_resident() const {
  std::string out;
  for (const auto& [name, e] : entries_) {
    if (e.where == Where::kHost) continue;
    out += fmt::format("{}{} {} ({})", out.empty() ? "" : ", ", name, format_bytes(e.bytes),
                       e.pinned         ? "pinned"
                       : e.acquired > 0 ? "acquired"
                                        : "idle");
  }
  return out.empty() ? "none" : out;
}

bool ResidencyManager::make_room(std::uint64_t bytes, const std::string& keep, bool dry_run) {
  // Candidates: idle resident components other than `keep`, least recently used first.
  std::vector<std::pair<std::uint64_t, std::string>> idle;
  for (const auto& [name, e] : entries_) {
    if (name != keep && e.where != Where::kHost && e.idle()) idle.emplace_back(e.last_use, name);
  }
  std::sort(idle.begin(), idle.end());
  std::uint64_t freeable = 0;
  for (const auto& [use, name] : idle) freeable += entries_.at(name).bytes;
  const std::uint64_t free_now = budget_ - std::min(budget_, device_bytes_);
  if (free_now + freeable < bytes) return false;
  if (dry_run) return true;
  for (const auto& [use, name] : idle) {
    if (budget_ - std::min(budget_, device_bytes_) >= bytes) break;
    move_out(entries_.at(name));
  }
  return true;
}

void ResidencyManager::move_in(const std::string& name, Entry& e) {
  (void)name;
  // A move that fails (a checkpoint that cannot be read again, device OOM) leaves the component
  // on the host and the books as they were.
  engine_->begin_to_device(*e.component);
  device_bytes_ += e.bytes;
  peak_bytes_ = std::max(peak_bytes_, device_bytes_);
  e.where = Where::kMovingIn;
}

void ResidencyManager::move_out(Entry& e) {
  // A prefetch still in flight must land before its memory can be given back.
  if (e.where == Where::kMovingIn) engine_->wait(*e.component);
  engine_->begin_to_host(*e.component);
  e.where = Where::kHost;
  device_bytes_ -= e.bytes;
}

void ResidencyManager::make_resident(const std::string& name) {
  Entry& e = entry(name);
  if (e.where == Where::kHost) {
    DUOGEN_CHECK(e.bytes <= budget_, BudgetError,
                 "residency: component '{}' needs {} ({} bytes) but the device budget is {} ({} "
                 "bytes)",
                 name, format_bytes(e.bytes), e.bytes, format_bytes(budget_), budget_);
    if (!make_room(e.bytes, name, /*dry_run=*/false)) {
      std::uint64_t in_use = 0;
      for (const auto& [other, o] : entries_) {
        if (o.where != Where::kHost && !o.idle()) in_use += o.bytes;
      }
      DUOGEN_FAIL(BudgetError,
                  "residency: cannot make room for '{}' ({} bytes): components in use hold {} "
                  "of the {} ({} bytes) budget and evicting every idle one would not free "
                  "enough; resident: {}",
                  name, e.bytes, format_bytes(in_use), format_bytes(budget_), budget_,
                  describe_resident());
    }
    move_in(name, e);
  }
  if (e.where == Where::kMovingIn) {
    engine_->wait(*e.component);
    e.where = Where::kDevice;
  }
  e.last_use = ++clock_;
}

void ResidencyManager::acquire(const std::string& name) {
  make_resident(name);
  ++entry(name).acquired;
}

void ResidencyManager::release(const std::string& name) {
  Entry& e = entry(name);
  DUOGEN_CHECK(e.acquired > 0, InvalidArgument, "residency: '{}' released but not acquired", name);
  --e.acquired;
  e.last_use = ++clock_;
}

bool ResidencyManager::prefetch(const std::string& name) {
  Entry& e = entry(name);
  if (e.where != Where::kHost) return true;
  if (e.bytes > budget_ || !make_room(e.bytes, name, /*dry_run=*/true)) return false;
  make_room(e.bytes, name, /*dry_run=*/false);
  move_in(name, e);
  // A prefetched component counts as just used, so the next eviction does not undo it.
  e.last_use = ++clock_;
  return true;
}

void ResidencyManager::pin(const std::string& name) {
  make_resident(name);
  entry(name).pinned = true;
}

void ResidencyManager::unpin(const std::string& name) {
  Entry& e = entry(name);
  e.pinned = false;
  e.last_use = ++clock_;
}

void ResidencyManager::evict(const std::string& name) {
  Entry& e = entry(name);
  DUOGEN_CHECK(e.idle(), InvalidArgument, "residency: cannot evict '{}': it is {}", name,
               e.pinned ? "pinned" : "acquired");
  if (e.where != Where::kHost) move_out(e);
}

ResidencyManager::Lease::Lease(ResidencyManager* manager, std::string name)
    : manager_(manager), name_(std::move(name)) {}

ResidencyManager::Lease::Lease(Lease&& other) noexcept
    : manager_(other.manager_), name_(std::move(other.name_)) {
  other.manager_ = nullptr;
}

ResidencyManager::Lease::~Lease() {
  if (manager_ != nullptr) manager_->release(name_);
}

ResidencyManager::Lease ResidencyManager::lease(const std::string& name) {
  acquire(name);
  return Lease(this, name);
}

bool ResidencyManager::is_resident(const std::string& name) const {
  return entry(name).where != Where::kHost;
}

bool ResidencyManager::in_use(const std::string& name) const { return !entry(name).idle(); }

std::vector<std::string> ResidencyManager::resident() const {
  std::vector<std::pair<std::uint64_t, std::string>> list;
  for (const auto& [name, e] : entries_) {
    if (e.where != Where::kHost) list.emplace_back(e.last_use, name);
  }
  std::sort(list.begin(), list.end());
  std::vector<std::string> names;
  for (auto& [use, name] : list) names.push_back(std::move(name));
  return names;
}

}  // namespace duogen::runtime
