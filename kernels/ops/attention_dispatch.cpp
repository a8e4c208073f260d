#include "kernels/ops/attention_dispatch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace duogen::ops {
namespace {

constexpr std::array<std::string_view, kAttentionSiteCount> kSiteNames = {
    "generic",  "vit_window", "vit_full",  "llm_prefill",      "llm_prefill_cached",
    "llm_decode", "dit_self", "dit_cross", "dit_cross_varlen", "vae_mid"};
constexpr std::array<std::string_view, kAttentionBackendCount> kBackendNames = {
    "reference", "flash_kernel", "sdpa_flash", "sdpa_cudnn", "sdpa_efficient"};

bool half_precision(c10::ScalarType t) { return t == c10::kHalf || t == c10::kBFloat16; }

// SDPA's causal flag is top-left aligned; it equals ours (bottom-right) when the problem is
// square, and a single query sees every key either way.
bool top_left_causal_equals_ours(const AttentionProblem& p) {
  return !p.causal || p.seqlen_q == 1 || (!p.varlen && p.seqlen_q == p.seqlen_k);
}

std::size_t index(AttentionSite s) { return static_cast<std::size_t>(s); }
std::size_t index(AttentionBackend b) { return static_cast<std::size_t>(b); }

}  // namespace

std::string_view site_name(AttentionSite site) { return kSiteNames.at(index(site)); }
std::string_view backend_name(AttentionBackend backend) {
  return kBackendNames.at(index(backend));
}

std::optional<AttentionSite> parse_site(std::string_view name) {
  for (std::size_t i = 0; i < kSiteNames.size(); ++i) {
    if (kSiteNames[i] == name) return static_cast<AttentionSite>(i);
  }
  return std::nullopt;
}

std::optional<AttentionBackend> parse_backend(std::string_view name) {
  for (std::size_t i = 0; i < kBackendNames.size(); ++i) {
    if (kBackendNames[i] == name) return static_cast<AttentionBackend>(i);
  }
  return std::nullopt;
}

std::string ineligibility(AttentionBackend backend, const AttentionProblem& p,
                          const DeviceCaps& caps) {
  if (backend == AttentionBackend::kReference) return {};
  if (!caps.cuda) return "not a CUDA tensor";
  const bool ampere = caps.cc_major >= 8;
  switch (backend) {
    case AttentionBackend::kReference:
      return {};
    case AttentionBackend::kFlashKernel:
      if (!caps.kernels_built) return "built without the project's CUDA kernels";
      if (!ampere) return "needs compute capability >= 8.0 (mma.sync bf16, cp.async)";
      if (!half_precision(p.dtype)) return "fp16/bf16 only";
      if (p.head_dim != 64 && p.head_dim != 80 && p.head_dim != 128) {
        return fmt::format("head dim {} not instantiated (64, 80, 128)", p.head_dim);
      }
      if (p.batch > 65535) return "more than 65535 batches / segments";
      return {};
    case AttentionBackend::kSdpaFlash:
      if (!ampere) return "FlashAttention-2 needs compute capability >= 8.0";
      if (!half_precision(p.dtype)) return "fp16/bf16 only";
      if (p.head_dim % 8 != 0 || p.head_dim > 256) return "head dim must be a multiple of 8, <= 256";
      // FlashAttention-2 masks bottom-right (as the reference) and writes zeros for a segment
      // without keys only in some versions: such segments go elsewhere.
      if (p.empty_key_segment) return "a segment without keys";
      return {};
    case AttentionBackend::kSdpaCudnn:
      if (!ampere) return "cuDNN SDPA needs compute capability >= 8.0";
      if (!half_precision(p.dtype)) return "fp16/bf16 only";
      if (p.varlen) return "dense only (packed segments are not routed to cuDNN)";
      if (p.head_dim % 8 != 0 || p.head_dim > 128) return "head dim must be a multiple of 8, <= 128";
      if (!top_left_causal_equals_ours(p)) return "causal with Sq != Sk (cuDNN masks top-left)";
      return {};
    case AttentionBackend::kSdpaEfficient:
      if (caps.cc_major < 5) return "needs compute capability >= 5.0";
      if (!half_precision(p.dtype) && p.dtype != c10::kFloat) return "fp32/fp16/bf16 only";
      if (p.head_dim % 8 != 0) return "head dim must be a multiple of 8";
      if (p.empty_key_segment) return "a segment without keys";
      return {};
  }
  return "unknown backend";
}

std::vector<AttentionBackend> default_order(const AttentionProblem& p, const DeviceCaps& caps) {
  using B = AttentionBackend;
  std::vector<B> wanted;
  if (p.seqlen_q == 1 && !p.varlen) {
    // Decode: the project's split-K kernel packs GQA heads; FA2 swaps heads into rows likewise.
    wanted = {B::kFlashKernel, B::kSdpaFlash, B::kSdpaEfficient};
  } else if (p.varlen) {
    wanted = {B::kSdpaFlash, B::kFlashKernel, B::kSdpaEfficient};
  } else if (p.causal && p.seqlen_q != p.seqlen_k) {
    wanted = {B::kSdpaFlash, B::kFlashKernel, B::kSdpaEfficient};
  } else if (caps.cc_major >= 9) {
    // Hopper: cuDNN's SDPA has the wgmma/TMA kernels; FA2 in libtorch is the Ampere design.
    wanted = {B::kSdpaCudnn, B::kSdpaFlash, B::kFlashKernel, B::kSdpaEfficient};
  } else {
    wanted = {B::kSdpaFlash, B::kSdpaCudnn, B::kFlashKernel, B::kSdpaEfficient};
  }
  std::vector<B> out;
  for (const B b : wanted) {
    if (eligible(b, p, caps)) out.push_back(b);
  }
  out.push_back(B::kReference);
  return out;
}

AttentionDispatch::AttentionDispatch(std::vector<AttentionMeasurement> table)
    : table_(std::move(table)) {}

const AttentionMeasurement* AttentionDispatch::nearest(const AttentionProblem& p) const {
  const AttentionMeasurement* best = nullptr;
  double best_distance = std::numeric_limits<double>::infinity();
  const auto log_ratio = [](std::int64_t a, std::int64_t b) {
    return std::abs(std::log(double(std::max<std::int64_t>(a, 1))) -
                    std::log(double(std::max<std::int64_t>(b, 1))));
  };
  for (const AttentionMeasurement& m : table_) {
    if (m.site != p.site || m.dtype != p.dtype || m.head_dim != p.head_dim ||
        m.causal != p.causal || m.varlen != p.varlen || m.ms.empty()) {
      continue;
    }
    const double d = log_ratio(m.seqlen_q, p.seqlen_q) + log_ratio(m.seqlen_k, p.seqlen_k);
    if (d < best_distance) {
      best_distance = d;
      best = &m;
    }
  }
  return best;
}

std::vector<AttentionBackend> AttentionDispatch::order(const AttentionProblem& p,
                                                       const DeviceCaps& caps) const {
  std::array<bool, kAttentionBackendCount> failed{};
  {
    const std::lock_guard lock(mutex_);
    failed = failed_[index(p.site)];
  }
  std::vector<AttentionBackend> out;
  const auto add = [&](AttentionBackend b) {
    if (b == AttentionBackend::kReference || failed[index(b)] || !eligible(b, p, caps)) return;
    if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
  };
  if (only_) {
    add(*only_);
  } else {
    if (const AttentionMeasurement* m = nearest(p)) {
      std::vector<std::pair<double, AttentionBackend>> measured;
      for (const auto& [b, ms] : m->ms) measured.emplace_back(ms, b);
      std::sort(measured.begin(), measured.end());
      // A measured reference faster than everything else keeps the others out.
      if (measured.front().second == AttentionBackend::kReference) {
        return {AttentionBackend::kReference};
      }
      for (const auto& [ms, b] : measured) add(b);
    }
    for (const AttentionBackend b : default_order(p, caps)) add(b);
  }
  out.push_back(AttentionBackend::kReference);
  return out;
}

void AttentionDispatch::record_ran(AttentionSite site, AttentionBackend backend) const {
  const std::lock_guard lock(mutex_);
  ++ran_[index(site)][index(backend)];
}

void AttentionDispatch::record_failed(AttentionSite site, AttentionBackend backend) const {
  const std::lock_guard lock(mutex_);
  failed_[index(site)][index(backend)] = true;
}

std::map<AttentionSite, std::map<AttentionBackend, std::int64_t>> AttentionDispatch::usage()
    const {
  const std::lock_guard lock(mutex_);
  std::map<AttentionSite, std::map<AttentionBackend, std::int64_t>> out;
  for (std::size_t s = 0; s < kAttentionSiteCount; ++s) {
    for (std::size_t b = 0; b < kAttentionBackendCount; ++b) {
      if (ran_[s][b] > 0) {
        out[static_cast<AttentionSite>(s)][static_cast<AttentionBackend>(b)] = ran_[s][b];
      }
    }
  }
  return out;
}

void AttentionDispatch::reset_usage() const {
  const std::lock_guard lock(mutex_);
  for (auto& row : ran_) row.fill(0);
}

}  // namespace duogen::ops
