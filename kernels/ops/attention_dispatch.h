// Which attention backend runs a call: the engine's call sites, the backends it can route CUDA
// tensors to (the project's flash kernel and the fused kernels libtorch carries), the rules that
// say which backend can compute a problem exactly, and the order in which the eligible ones are
// tried -- measured (a table that `bench_kernels` writes, loaded by runtime/attention_table.h) or,
// where nothing was measured, a built-in order. Torch-free apart from the scalar type, so the
// rules are unit-tested on the CPU.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <c10/core/ScalarType.h>

namespace duogen::ops {

// The engine's attention call sites (issue #16): one per model role, so a measured table can give
// each its own backend.
enum class AttentionSite : std::uint8_t {
  kGeneric,           // tests, tools, anything not tagged
  kVitWindow,         // Qwen2.5-VL ViT, windowed blocks (varlen, d 80)
  kVitFull,           // Qwen2.5-VL ViT, full-attention blocks (varlen, one segment per image)
  kLlmPrefill,        // MLLM prompt chunk with an empty cache (square causal)
  kLlmPrefillCached,  // MLLM chunk after cached tokens (bottom-right causal, Sq < Sk)
  kLlmDecode,         // MLLM one-token decode against the cache (split-K)
  kDitSelf,           // Cosmos DiT self-attention over the packed frames
  kDitCross,          // DiT cross-attention, one context shared by the batch (stride-0 K/V)
  kDitCrossVarlen,    // DiT cross-attention, CFG branches stacked as varlen segments
  kVaeMid,            // Wan VAE mid-block (one head, head dim = channels)
};
inline constexpr std::size_t kAttentionSiteCount = 10;

enum class AttentionBackend : std::uint8_t {
  kReference,      // reference::attention: SDPA's own backend choice, explicit bottom-right mask
  kFlashKernel,    // kernels/attention (the project's kernel; split-K decode, varlen, GQA)
  kSdpaFlash,      // at::_flash_attention_forward (FlashAttention-2; dense and varlen, GQA)
  kSdpaCudnn,      // at::_scaled_dot_product_cudnn_attention (dense; top-left causal only)
  kSdpaEfficient,  // at::_efficient_attention_forward (mem-efficient; dense and varlen, fp32 too)
};
inline constexpr std::size_t kAttentionBackendCount = 5;

std::string_view site_name(AttentionSite site);
std::string_view backend_name(AttentionBackend backend);
// Inverse of the names above; std::nullopt for an unknown name.
std::optional<AttentionSite> parse_site(std::string_view name);
std::optional<AttentionBackend> parse_backend(std::string_view name);

// What the eligibility rules need to know about the device (filled by the entry point).
struct DeviceCaps {
  bool cuda = false;
  int cc_major = 0, cc_minor = 0;  // compute capability; 0: unknown
  bool kernels_built = false;      // this build has the project's CUDA kernels
};

// One attention call, as the rules see it.
struct AttentionProblem {
  AttentionSite site = AttentionSite::kGeneric;
  c10::ScalarType dtype = c10::kFloat;
  bool varlen = false;
  std::int64_t batch = 1;  // segments for varlen
  std::int64_t heads_q = 1, heads_kv = 1;
  std::int64_t seqlen_q = 0, seqlen_k = 0;  // varlen: the longest segments
  std::int64_t head_dim = 0;
  bool causal = false;  // bottom-right aligned (ops::AttentionOptions)
  // varlen: a segment with queries but no keys (its output must be zero).
  bool empty_key_segment = false;
};

// Empty when `backend` computes `problem` exactly as the reference defines it, else the reason it
// cannot (for the tests and the bench's table).
std::string ineligibility(AttentionBackend backend, const AttentionProblem& problem,
                          const DeviceCaps& caps);
inline bool eligible(AttentionBackend backend, const AttentionProblem& problem,
                     const DeviceCaps& caps) {
  return ineligibility(backend, problem, caps).empty();
}

// The built-in order where nothing was measured: libtorch's Hopper/Ampere kernels first where they
// compute the problem, the project's kernel for split-K decode, the reference last. Only eligible
// backends are listed; the reference always is.
std::vector<AttentionBackend> default_order(const AttentionProblem& problem,
                                            const DeviceCaps& caps);

// One measurement of bench_kernels: the time of each backend on one problem.
struct AttentionMeasurement {
  AttentionSite site = AttentionSite::kGeneric;
  c10::ScalarType dtype = c10::kBFloat16;
  std::int64_t head_dim = 0;
  bool causal = false;
  bool varlen = false;
  std::int64_t seqlen_q = 0, seqlen_k = 0;
  std::map<AttentionBackend, double> ms;  // backends that ran; the fastest is preferred
};

// The order of backends per call, plus a count of which backend ran at each site. Shared by the
// models of one engine (const methods are thread-safe).
class AttentionDispatch {
 public:
  AttentionDispatch() = default;
  explicit AttentionDispatch(std::vector<AttentionMeasurement> table);
  // A dispatch that tries only `backend` (then the reference if it is not eligible): tests and
  // benchmarks force each backend in turn with it.
  // Not movable (it holds a mutex): `const auto d = AttentionDispatch::only(b);`.
  static AttentionDispatch only(AttentionBackend backend) { return {OnlyTag{}, backend}; }

  // Eligible backends to try, best first; the reference is always last. With measurements for the
  // problem's site, dtype, head dim, causality and layout, the nearest measured lengths (in log
  // scale) decide the order of the backends measured there, and the built-in order follows.
  std::vector<AttentionBackend> order(const AttentionProblem& problem,
                                      const DeviceCaps& caps) const;

  // Called by the entry points after a backend ran (or failed, which takes it out of the order
  // for that site: a library backend that throws on one problem is not retried on every call).
  void record_ran(AttentionSite site, AttentionBackend backend) const;
  void record_failed(AttentionSite site, AttentionBackend backend) const;
  // Calls per site and backend since construction (or the last reset).
  std::map<AttentionSite, std::map<AttentionBackend, std::int64_t>> usage() const;
  void reset_usage() const;

  const std::vector<AttentionMeasurement>& table() const { return table_; }

 private:
  struct OnlyTag {};
  AttentionDispatch(OnlyTag, AttentionBackend backend) : only_(backend) {}
  const AttentionMeasurement* nearest(const AttentionProblem& problem) const;

  std::vector<AttentionMeasurement> table_;
  std::optional<AttentionBackend> only_;
  mutable std::mutex mutex_;
  mutable std::array<std::array<std::int64_t, kAttentionBackendCount>, kAttentionSiteCount>
      ran_{};
  mutable std::array<std::array<bool, kAttentionBackendCount>, kAttentionSiteCount> failed_{};
};

}  // namespace duogen::ops
