// A model the pipeline can take off the device (issue #10's offload mode). Without a residency
// manager the model is loaded once and stays. With one, the slot is a runtime::Movable: evicting
// it drops the model (its device tensors are freed), and the next use() loads it again from the
// memory-mapped checkpoint, under the manager's byte budget, least recently used first.
//
//   ModelSlot<wan_vae::WanVAE> vae("vae", [&] { return WanVAE::load(path, options); }, residency,
//                                  bytes);
//   { auto use = vae.use(); use->decode(latent); }   // resident while `use` lives
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/check.h"
#include "runtime/residency.h"

namespace duogen::pipeline {

template <class M>
class ModelSlot {
 public:
  using Loader = std::function<M()>;

  class Use {
   public:
    M& operator*() const { return *model_; }
    M* operator->() const { return model_; }

   private:
    friend class ModelSlot;
    Use(std::optional<runtime::ResidencyManager::Lease> lease, M* model)
        : lease_(std::move(lease)), model_(model) {}
    std::optional<runtime::ResidencyManager::Lease> lease_;
    M* model_;
  };

  // Loads the model once (so a bad checkpoint fails here, not mid-run); with a manager, it is then
  // released and registered as `name` with `bytes` of device weights, to be loaded on first use.
  // `inspect` sees the loaded model first (to keep its config).
  ModelSlot(std::string name, Loader load, std::shared_ptr<runtime::ResidencyManager> residency,
            std::uint64_t bytes, const std::function<void(const M&)>& inspect = {})
      : name_(std::move(name)),
        residency_(std::move(residency)),
        model_(std::make_shared<Offloadable>(std::move(load))) {
    model_->to_device();
    if (inspect) inspect(*model_->model);
    if (residency_) {
      // Fail before the first job rather than inside it.
      DUOGEN_CHECK(bytes <= residency_->budget(), runtime::BudgetError,
                   "offload: {} needs {} bytes of device memory, more than the whole budget of {}",
                   name_, bytes, residency_->budget());
      model_->to_host();
      residency_->add(name_, bytes, model_);
    }
  }

  // The model, resident until the returned Use is destroyed.
  Use use() {
    std::optional<runtime::ResidencyManager::Lease> lease;
    if (residency_) lease.emplace(residency_->lease(name_));
    DUOGEN_CHECK(model_->model.has_value(), InvalidArgument, "{} is not on the device", name_);
    return Use(std::move(lease), &*model_->model);
  }

  // How many times the model was loaded (1 without offload; more when it was evicted and used
  // again).
  int loads() const { return model_->loads; }
  const std::string& name() const { return name_; }

 private:
  struct Offloadable final : runtime::Movable {
    explicit Offloadable(Loader l) : load(std::move(l)) {}
    void to_device() override {
      if (model) return;
      model.emplace(load());
      ++loads;
    }
    void to_host() override { model.reset(); }
    Loader load;
    std::optional<M> model;
    int loads = 0;
  };

  std::string name_;
  std::shared_ptr<runtime::ResidencyManager> residency_;
  std::shared_ptr<Offloadable> model_;
};

}  // namespace duogen::pipeline
