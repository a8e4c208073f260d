// Offload bookkeeping: which components' weights are on the device, under a byte budget.
//
//   runtime::ResidencyManager residency(24ull << 30);
//   residency.add("mllm", mllm_bytes, mllm);      // starts on the host
//   residency.add("dit", dit_bytes, dit);
//   residency.prefetch("dit");                    // early move-in, if it fits without evicting
//   {                                             // anything in use
//     auto lease = residency.lease("dit");        // resident now (evicting idle ones, LRU first)
//     ...run the DiT...
//   }                                             // released: evictable again, stays resident
//
// Components implement Movable (move their tensors between pinned host memory and the device).
// Moves go through a MoveEngine: the default runs them synchronously on the calling thread (the
// CPU case); a CUDA engine can start them on a side stream and make wait() an event wait, without
// changing callers: acquire() always waits for a pending prefetch of the component it returns.
// No global state; not thread-safe (one pipeline drives one manager).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "duogen/error.h"

namespace duogen::runtime {

// What the manager moves. Real models implement it; tests use fakes that record calls.
class Movable {
 public:
  virtual ~Movable() = default;
  virtual void to_device() = 0;
  virtual void to_host() = 0;
};

// Carries out moves. begin_* may return before the move is done; wait() returns once the move
// last begun for `component` is done (and the data may be used on the compute stream).
class MoveEngine {
 public:
  virtual ~MoveEngine() = default;
  virtual void begin_to_device(Movable& component) = 0;
  virtual void begin_to_host(Movable& component) = 0;
  virtual void wait(Movable& component) = 0;
};

// Runs every move at once on the calling thread.
class SynchronousMoveEngine final : public MoveEngine {
 public:
  void begin_to_device(Movable& component) override { component.to_device(); }
  void begin_to_host(Movable& component) override { component.to_host(); }
  void wait(Movable&) override {}
};

// A request the budget cannot satisfy: one component larger than the budget, or no idle
// component left to evict. The message names the components and byte counts.
class BudgetError : public Error {
 public:
  using Error::Error;
};

class ResidencyManager {
 public:
  // `engine` defaults to SynchronousMoveEngine.
  explicit ResidencyManager(std::uint64_t budget_bytes, std::unique_ptr<MoveEngine> engine = {});
  ResidencyManager(const ResidencyManager&) = delete;
  ResidencyManager& operator=(const ResidencyManager&) = delete;

  // Registers a component, on the host. InvalidArgument for a duplicate name or a null component.
  void add(const std::string& name, std::uint64_t bytes, std::shared_ptr<Movable> component);

  // Makes `name` resident (evicting idle components, least recently used first) and marks it in
  // use; acquires nest (each needs its release). BudgetError when it alone exceeds the budget or
  // when the components in use (acquired or pinned) leave no room.
  void acquire(const std::string& name);
  // Ends one acquire; the component stays resident but may be evicted. InvalidArgument if it was
  // not acquired.
  void release(const std::string& name);
  // Starts moving `name` in when it fits after evicting only idle components; returns whether it
  // is (or is becoming) resident. Never throws for lack of room.
  bool prefetch(const std::string& name);
  // Pinned components are never evicted (e.g. a KV cache that lives for the conversation);
  // pin() makes the component resident like acquire().
  void pin(const std::string& name);
  void unpin(const std::string& name);
  // Moves an idle component back to the host now. InvalidArgument if it is in use.
  void evict(const std::string& name);

  // acquire() now, release() when the lease is destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

   private:
    friend class ResidencyManager;
    Lease(ResidencyManager* manager, std::string name);
    ResidencyManager* manager_;
    std::string name_;
  };
  Lease lease(const std::string& name);

  bool is_resident(const std::string& name) const;  // on the device or moving there
  bool in_use(const std::string& name) const;       // acquired or pinned
  // Resident components, least recently used first.
  std::vector<std::string> resident() const;
  std::uint64_t budget() const { return budget_; }
  std::uint64_t device_bytes() const { return device_bytes_; }
  std::uint64_t peak_device_bytes() const { return peak_bytes_; }

 private:
  enum class Where { kHost, kMovingIn, kDevice };
  struct Entry {
    std::uint64_t bytes = 0;
    std::shared_ptr<Movable> component;
    Where where = Where::kHost;
    int acquired = 0;
    bool pinned = false;
    std::uint64_t last_use = 0;
    bool idle() const { return acquired == 0 && !pinned; }
  };

  Entry& entry(const std::string& name);
  const Entry& entry(const std::string& name) const;
  // Makes room for `bytes` more by evicting idle components other than `keep`, LRU first; when
  // `dry_run`, only says whether that is possible.
  bool make_room(std::uint64_t bytes, const std::string& keep, bool dry_run);
  void move_in(const std::string& name, Entry& e);
  void move_out(Entry& e);
  void make_resident(const std::string& name);
  std::string describe_resident() const;

  std::uint64_t budget_;
  std::unique_ptr<MoveEngine> engine_;
  std::map<std::string, Entry> entries_;
  std::uint64_t device_bytes_ = 0;
  std::uint64_t peak_bytes_ = 0;
  std::uint64_t clock_ = 0;
};

}  // namespace duogen::runtime
