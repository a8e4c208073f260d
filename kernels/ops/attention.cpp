#include "kernels/ops/attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/check.h"
#include "kernels/ops/attention_library.h"
#include "kernels/reference/attention.h"

#ifdef DUOGEN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <limits>

#include "kernels/attention/flash_params.h"
#endif

namespace duogen::ops {
namespace {

// Heads are axis 1 in both layouts ([B, H, S, D] and [N, H, D]); head_dim is the last axis.
void check_heads(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const char* what) {
  constexpr int head_axis = 1;
  const std::int64_t head_dim = q.dim() - 1;
  DUOGEN_CHECK(k.sizes() == v.sizes(), InvalidArgument, "{}: key {} and value {} differ", what,
               k.sizes(), v.sizes());
  DUOGEN_CHECK(q.size(head_dim) == k.size(head_dim), InvalidArgument,
               "{}: query head dim {} != key head dim {}", what, q.size(head_dim),
               k.size(head_dim));
  DUOGEN_CHECK(k.size(head_axis) > 0 && q.size(head_axis) % k.size(head_axis) == 0,
               InvalidArgument, "{}: {} query heads are not a multiple of {} key heads", what,
               q.size(head_axis), k.size(head_axis));
  DUOGEN_CHECK(q.device() == k.device() && k.device() == v.device(), InvalidArgument,
               "{}: q, k, v on different devices", what);
  DUOGEN_CHECK(q.scalar_type() == k.scalar_type() && k.scalar_type() == v.scalar_type(),
               InvalidArgument, "{}: q, k, v have different dtypes", what);
}

#ifdef DUOGEN_WITH_CUDA
// cp.async moves 16-byte chunks: the head_dim axis must be contiguous, every other stride a
// multiple of 8 elements and the base 16-byte aligned. Views that are not get copied.
at::Tensor flash_ready(const at::Tensor& x) {
  bool ok = x.stride(-1) == 1 && reinterpret_cast<std::uintptr_t>(x.data_ptr()) % 16 == 0;
  for (std::int64_t i = 0; i + 1 < x.dim(); ++i) ok = ok && (x.size(i) == 1 || x.stride(i) % 8 == 0);
  return ok ? x : x.contiguous();
}

int checked_int(std::int64_t v, const char* what) {
  DUOGEN_CHECK(v <= std::numeric_limits<int>::max(), InvalidArgument,
               "attention: {} = {} exceeds the kernel's 32-bit range", what, v);
  return static_cast<int>(v);
}

kernels::FlashParams base_params(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 const at::Tensor& out, const AttentionOptions& options) {
  kernels::FlashParams p{};
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.o = out.data_ptr();
  p.head_dim = static_cast<int>(q.size(-1));
  p.scale = static_cast<float>(options.scale.value_or(1.0 / std::sqrt(double(q.size(-1)))));
  p.causal = options.causal;
  p.num_splits = 1;
  p.dtype = q.scalar_type() == at::kHalf ? kernels::KernelDType::kF16
                                         : kernels::KernelDType::kBF16;
  return p;
}

void launch(const kernels::FlashParams& p, const char* what) {
  const cudaError_t err = kernels::launch_flash_attention(p, at::cuda::getCurrentCUDAStream());
  DUOGEN_CHECK(err == cudaSuccess, Error, "{}: flash-attention kernel failed: {}", what,
               cudaGetErrorString(err));
}

// Flash-decoding: when the (batch x heads x query tiles) grid cannot fill the GPU and the key
// sequence is long, split the keys so that about two waves of blocks run, keeping at least two
// key tiles per split.
int choose_splits(std::int64_t blocks, std::int64_t seqlen_k) {
  const std::int64_t key_tiles = (seqlen_k + kernels::kFlashBlockN - 1) / kernels::kFlashBlockN;
  const std::int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  if (blocks >= sms || key_tiles < 4) return 1;
  std::int64_t splits = (2 * sms + blocks - 1) / blocks;
  splits = std::min({splits, key_tiles / 2, std::int64_t{128}});
  return static_cast<int>(std::max<std::int64_t>(splits, 1));
}

at::Tensor attention_cuda(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                          const AttentionOptions& options) {
  const c10::cuda::CUDAGuard guard(q_in.device());
  const at::Tensor q = flash_ready(q_in);
  const at::Tensor k = flash_ready(k_in);
  const at::Tensor v = flash_ready(v_in);
  const std::int64_t batch = q.size(0), heads_q = q.size(1), sq = q.size(2), d = q.size(3);
  const std::int64_t heads_kv = k.size(1), sk = k.size(2);
  at::Tensor out = at::empty({batch, heads_q, sq, d}, q.options());
  if (out.numel() == 0) return out;

  kernels::FlashParams p = base_params(q, k, v, out, options);
  p.batch = checked_int(batch, "batch");
  p.heads_q = checked_int(heads_q, "query heads");
  p.heads_kv = checked_int(heads_kv, "key heads");
  p.seqlen_q = checked_int(sq, "query length");
  p.seqlen_k = checked_int(sk, "key length");
  p.q_batch_stride = q.stride(0);
  p.q_head_stride = q.stride(1);
  p.q_row_stride = q.stride(2);
  p.k_batch_stride = k.stride(0);
  p.k_head_stride = k.stride(1);
  p.k_row_stride = k.stride(2);
  p.v_batch_stride = v.stride(0);
  p.v_head_stride = v.stride(1);
  p.v_row_stride = v.stride(2);
  p.o_batch_stride = out.stride(0);
  p.o_head_stride = out.stride(1);
  p.o_row_stride = out.stride(2);

  const std::int64_t groups = heads_q / heads_kv;
  if (sq == 1 && groups > 1) {
    // Decode with GQA: the query heads sharing a key head become the rows of one tile, so K/V
    // are read once per key head instead of once per query head. One query sees every key, so
    // the causal mask is moot.
    p.heads_q = p.heads_kv;
    p.seqlen_q = static_cast<int>(groups);
    p.q_row_stride = q.stride(1);
    p.q_head_stride = q.stride(1) * groups;
    p.o_row_stride = out.stride(1);
    p.o_head_stride = out.stride(1) * groups;
    p.causal = false;
  }

  const std::int64_t m_tiles = (p.seqlen_q + kernels::kFlashBlockM - 1) / kernels::kFlashBlockM;
  p.num_splits = choose_splits(std::int64_t{p.batch} * p.heads_q * m_tiles, sk);
  at::Tensor o_accum, lse_accum;
  if (p.num_splits > 1) {
    const auto f32 = q.options().dtype(at::kFloat);
    o_accum = at::empty({p.num_splits, p.batch, p.heads_q, p.seqlen_q, d}, f32);
    lse_accum = at::empty({p.num_splits, p.batch, p.heads_q, p.seqlen_q}, f32);
    p.o_accum = o_accum.data_ptr<float>();
    p.lse_accum = lse_accum.data_ptr<float>();
  }
  launch(p, "attention");
  return out;
}

at::Tensor varlen_attention_cuda(const at::Tensor& q_in, const at::Tensor& k_in,
                                 const at::Tensor& v_in, const VarlenLayout& layout,
                                 const AttentionOptions& options) {
  const c10::cuda::CUDAGuard guard(q_in.device());
  const at::Tensor q = flash_ready(q_in);
  const at::Tensor k = flash_ready(k_in);
  const at::Tensor v = flash_ready(v_in);
  at::Tensor out = at::empty(q.sizes(), q.options());
  if (out.numel() == 0 || layout.segments() == 0) return out.zero_();

  kernels::FlashParams p = base_params(q, k, v, out, options);
  p.cu_seqlens_q = layout.cu_q_device.data_ptr<int>();
  p.cu_seqlens_k = layout.cu_k_device.data_ptr<int>();
  p.batch = checked_int(layout.segments(), "segments");
  p.heads_q = checked_int(q.size(1), "query heads");
  p.heads_kv = checked_int(k.size(1), "key heads");
  checked_int(q.size(0), "packed query tokens");
  checked_int(k.size(0), "packed key tokens");
  p.seqlen_q = checked_int(layout.max_q, "query segment length");
  p.seqlen_k = 0;  // per segment from cu_seqlens_k
  p.q_row_stride = q.stride(0);
  p.q_head_stride = q.stride(1);
  p.k_row_stride = k.stride(0);
  p.k_head_stride = k.stride(1);
  p.v_row_stride = v.stride(0);
  p.v_head_stride = v.stride(1);
  p.o_row_stride = out.stride(0);
  p.o_head_stride = out.stride(1);
  launch(p, "varlen_attention");
  return out;
}
#endif

DeviceCaps caps_of(const at::Tensor& q) {
  DeviceCaps caps;
  caps.cuda = q.is_cuda();
#ifdef DUOGEN_WITH_CUDA
  caps.kernels_built = true;
  if (caps.cuda) {
    // Cached by ATen per device: no driver call per attention.
    const cudaDeviceProp* props = at::cuda::getDeviceProperties(q.device().index());
    caps.cc_major = props->major;
    caps.cc_minor = props->minor;
  }
#endif
  return caps;
}

double softmax_scale(const at::Tensor& q, const AttentionOptions& options) {
  return options.scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
}

// Runs the backends of `order` until one succeeds. A library kernel (or ours) that rejects a
// problem the rules let through (an older cuDNN, a GPU without the kernel's architecture) is
// recorded as failed for the site and the next one runs; the reference's errors propagate.
template <typename Run>
at::Tensor run_first(const std::vector<AttentionBackend>& order, const AttentionOptions& options,
                     Run&& run) {
  for (const AttentionBackend b : order) {
    if (b == AttentionBackend::kReference) break;
    try {
      at::Tensor out = run(b);
      if (options.dispatch != nullptr) options.dispatch->record_ran(options.site, b);
      return out;
    } catch (const c10::Error&) {
    } catch (const duogen::Error&) {
    }
    if (options.dispatch != nullptr) options.dispatch->record_failed(options.site, b);
  }
  at::Tensor out = run(AttentionBackend::kReference);
  if (options.dispatch != nullptr) {
    options.dispatch->record_ran(options.site, AttentionBackend::kReference);
  }
  return out;
}

std::vector<AttentionBackend> backend_order(const AttentionProblem& p, const DeviceCaps& caps,
                                            const AttentionOptions& options) {
  if (!caps.cuda) return {AttentionBackend::kReference};
  return options.dispatch != nullptr ? options.dispatch->order(p, caps) : default_order(p, caps);
}

}  // namespace

VarlenLayout VarlenLayout::make(const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                                c10::Device device) {
  DUOGEN_CHECK(cu_seqlens_q.defined() && cu_seqlens_k.defined() && cu_seqlens_q.dim() == 1 &&
                   cu_seqlens_q.sizes() == cu_seqlens_k.sizes() && cu_seqlens_q.numel() >= 1,
               InvalidArgument, "varlen_attention: cu_seqlens shapes {} and {} differ",
               cu_seqlens_q.defined() ? cu_seqlens_q.sizes() : c10::IntArrayRef{},
               cu_seqlens_k.defined() ? cu_seqlens_k.sizes() : c10::IntArrayRef{});
  VarlenLayout layout;
  layout.cu_q = cu_seqlens_q.to(at::kCPU, at::kLong).contiguous();
  layout.cu_k = cu_seqlens_k.to(at::kCPU, at::kLong).contiguous();
  const auto check_prefix = [](const at::Tensor& cu, const char* name) {
    const auto* c = cu.data_ptr<std::int64_t>();
    bool ok = c[0] == 0;
    for (std::int64_t i = 1; i < cu.numel(); ++i) ok = ok && c[i] >= c[i - 1];
    DUOGEN_CHECK(ok, InvalidArgument, "varlen_attention: {} must rise from 0 without decreasing",
                 name);
  };
  check_prefix(layout.cu_q, "cu_seqlens_q");
  check_prefix(layout.cu_k, "cu_seqlens_k");
  const auto* cq = layout.cu_q.data_ptr<std::int64_t>();
  const auto* ck = layout.cu_k.data_ptr<std::int64_t>();
  const std::int64_t n = layout.cu_q.numel();
  layout.total_q = cq[n - 1];
  layout.total_k = ck[n - 1];
  for (std::int64_t s = 0; s + 1 < n; ++s) {
    const std::int64_t lq = cq[s + 1] - cq[s], lk = ck[s + 1] - ck[s];
    layout.max_q = std::max(layout.max_q, lq);
    layout.max_k = std::max(layout.max_k, lk);
    layout.empty_key_segment = layout.empty_key_segment || (lq > 0 && lk == 0);
  }
  if (device.is_cuda()) {
    // Pinned source + non_blocking: an async copy the caching host allocator keeps alive.
    const auto to_device = [&](const at::Tensor& cu) {
      return cu.to(at::kInt).pin_memory().to(device, /*non_blocking=*/true);
    };
    layout.cu_q_device = to_device(layout.cu_q);
    layout.cu_k_device = to_device(layout.cu_k);
  }
  return layout;
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionOptions& options) {
  DUOGEN_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, InvalidArgument,
               "attention: expected [B, H, S, D] tensors, got q {} k {} v {}", q.sizes(),
               k.sizes(), v.sizes());
  DUOGEN_CHECK(q.size(0) == k.size(0), InvalidArgument, "attention: batch {} != {}", q.size(0),
               k.size(0));
  check_heads(q, k, v, "attention");
  DUOGEN_CHECK(!options.causal || q.size(2) <= k.size(2), InvalidArgument,
               "attention: causal with more queries ({}) than keys ({})", q.size(2), k.size(2));
  AttentionProblem p;
  p.site = options.site;
  p.dtype = q.scalar_type();
  p.batch = q.size(0);
  p.heads_q = q.size(1);
  p.heads_kv = k.size(1);
  p.seqlen_q = q.size(2);
  p.seqlen_k = k.size(2);
  p.head_dim = q.size(3);
  p.causal = options.causal;
  const DeviceCaps caps = caps_of(q);
  const double scale = softmax_scale(q, options);
  return run_first(backend_order(p, caps, options), options, [&](AttentionBackend b) {
    switch (b) {
#ifdef DUOGEN_WITH_CUDA
      case AttentionBackend::kFlashKernel:
        return attention_cuda(q, k, v, options);
#endif
      case AttentionBackend::kSdpaFlash:
        return library::flash_dense(q, k, v, options.causal, scale);
      case AttentionBackend::kSdpaCudnn:
        return library::cudnn_dense(q, k, v, options.causal, scale);
      case AttentionBackend::kSdpaEfficient:
        return library::efficient_dense(q, k, v, options.causal, scale);
      default:
        return reference::attention(q, k, v, options);
    }
  });
}

at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& cu_seqlens_q, const at::Tensor& cu_seqlens_k,
                            const AttentionOptions& options) {
  return varlen_attention(q, k, v, VarlenLayout::make(cu_seqlens_q, cu_seqlens_k, q.device()),
                          options);
}

at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const VarlenLayout& layout, const AttentionOptions& options) {
  DUOGEN_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, InvalidArgument,
               "varlen_attention: expected [N, H, D] tensors, got q {} k {} v {}", q.sizes(),
               k.sizes(), v.sizes());
  check_heads(q, k, v, "varlen_attention");
  DUOGEN_CHECK(layout.total_q == q.size(0) && layout.total_k == k.size(0), InvalidArgument,
               "varlen_attention: cu_seqlens_q must end at {} and cu_seqlens_k at {}, got {} "
               "and {}",
               q.size(0), k.size(0), layout.total_q, layout.total_k);
  DUOGEN_CHECK(!q.is_cuda() || (layout.cu_q_device.defined() &&
                                layout.cu_q_device.device() == q.device()),
               InvalidArgument, "varlen_attention: the layout was made for {}, q is on {}",
               layout.cu_q_device.defined() ? layout.cu_q_device.device().str() : "the CPU",
               q.device().str());
  AttentionProblem p;
  p.site = options.site;
  p.dtype = q.scalar_type();
  p.varlen = true;
  p.batch = layout.segments();
  p.heads_q = q.size(1);
  p.heads_kv = k.size(1);
  p.seqlen_q = layout.max_q;
  p.seqlen_k = layout.max_k;
  p.head_dim = q.size(2);
  p.causal = options.causal;
  p.empty_key_segment = layout.empty_key_segment;
  const DeviceCaps caps = caps_of(q);
  const double scale = softmax_scale(q, options);
  return run_first(backend_order(p, caps, options), options, [&](AttentionBackend b) {
    switch (b) {
#ifdef DUOGEN_WITH_CUDA
      case AttentionBackend::kFlashKernel:
        return varlen_attention_cuda(q, k, v, layout, options);
#endif
      case AttentionBackend::kSdpaFlash:
        return library::flash_varlen(q, k, v, layout, options.causal, scale);
      case AttentionBackend::kSdpaEfficient:
        return library::efficient_varlen(q, k, v, layout, options.causal, scale);
      default:
        return reference::varlen_attention(q, k, v, layout.cu_q, layout.cu_k, options);
    }
  });
}

}  // namespace duogen::ops
