// Per-layer key/value cache for the Qwen2.5-VL decoder (batch 1).
//
// Each layer owns preallocated [1, Hkv, capacity, D] key and value buffers. A forward pass over a
// chunk of S new tokens (a prefill, a single decoded token, or an image appended mid-decode)
// calls reserve(length() + S), then write() once per layer, then commit(S). Growth reallocates in
// whole chunks and copies, so decoding one token at a time costs one copy per `grow_chunk` tokens.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace duogen::qwen2_5_vl {

struct KVCacheOptions {
  std::int64_t initial_capacity = 256;  // tokens allocated up front
  std::int64_t grow_chunk = 256;        // capacity grows in multiples of this
  std::int64_t max_capacity = 0;        // 0: unbounded; else reserve() beyond it throws
};

class KVCache {
 public:
  KVCache(std::int64_t num_layers,
          std::int64_t num_kv_heads,
          std::int64_t head_dim,
          c10::TensorOptions tensor_options,
          KVCacheOptions options = {});

  // Makes room for `length` tokens in total (keeps the cached ones). Throws InvalidArgument past
  // max_capacity.
  void reserve(std::int64_t length);
  // Stores k, v [1, Hkv, S, D] of `layer` at [length(), length() + S) and returns views of the
  // layer's keys and values [1, Hkv, length() + S, D]. reserve() must have made room.
  std::pair<at::Tensor, at::Tensor> write(std::int64_t layer,
                                          const at::Tensor& k,
                                          const at::Tensor& v);
  // Marks S written tokens as cached (after every layer wrote them).
  void commit(std::int64_t s);
  // Forgets every token from `length` on (e.g. to re-run a suffix). Throws if length > length().
  void truncate(std::int64_t length);
  void clear() { length_ = 0; }

  std::int64_t length() const { return length_; }
  std::int64_t capacity() const { return capacity_; }
  // Bytes of the key and value buffers (capacity, not length: what the cache holds on to).
  std::int64_t bytes() const;
  std::int64_t num_layers() const { return static_cast<std::int64_t>(keys_.size()); }

 private:
  std::int64_t num_kv_heads_;
  std::int64_t head_dim_;
  c10::TensorOptions tensor_options_;
  KVCacheOptions options_;
  std::int64_t capacity_ = 0;
  std::int64_t length_ = 0;
  std::vector<at::Tensor> keys_;    // per layer [1, Hkv, capacity, D]
  std::vector<at::Tensor> values_;  // per layer [1, Hkv, capacity, D]
};

}  // namespace duogen::qwen2_5_vl
