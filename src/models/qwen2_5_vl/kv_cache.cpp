#include "models/qwen2_5_vl/kv_cache.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace duogen::qwen2_5_vl {

KVCache::KVCache(std::int64_t num_layers,
                 std::int64_t num_kv_heads,
                 std::int64_t head_dim,
                 c10::TensorOptions tensor_options,
                 KVCacheOptions options)
    : num_kv_heads_(num_kv_heads),
      head_dim_(head_dim),
      tensor_options_(tensor_options),
      options_(options) {
  DUOGEN_CHECK(num_layers > 0 && num_kv_heads > 0 && head_dim > 0, InvalidArgument,
               "KVCache: layers ({}), kv heads ({}) and head_dim ({}) must be > 0", num_layers,
               num_kv_heads, head_dim);
  DUOGEN_CHECK(options.grow_chunk > 0 && options.initial_capacity >= 0, InvalidArgument,
               "KVCache: grow_chunk must be > 0 and initial_capacity >= 0");
  keys_.resize(num_layers);
  values_.resize(num_layers);
  reserve(options.initial_capacity);
}

void KVCache::reserve(std::int64_t length) {
  if (length <= capacity_) return;
  DUOGEN_CHECK(options_.max_capacity == 0 || length <= options_.max_capacity, InvalidArgument,
               "KVCache: {} tokens exceed the cache's max_capacity {}", length,
               options_.max_capacity);
  std::int64_t capacity =
      (length + options_.grow_chunk - 1) / options_.grow_chunk * options_.grow_chunk;
  if (options_.max_capacity > 0) capacity = std::min(capacity, options_.max_capacity);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    for (auto* buffers : {&keys_, &values_}) {
      at::Tensor grown = at::empty({1, num_kv_heads_, capacity, head_dim_}, tensor_options_);
      if (length_ > 0) grown.narrow(2, 0, length_).copy_((*buffers)[i].narrow(2, 0, length_));
      (*buffers)[i] = std::move(grown);
    }
  }
  capacity_ = capacity;
}

std::pair<at::Tensor, at::Tensor> KVCache::write(std::int64_t layer,
                                                 const at::Tensor& k,
                                                 const at::Tensor& v) {
  DUOGEN_CHECK(layer >= 0 && layer < num_layers(), InvalidArgument,
               "KVCache: layer {} out of range [0, {})", layer, num_layers());
  DUOGEN_CHECK(k.dim() == 4 && k.size(0) == 1 && k.size(1) == num_kv_heads_ &&
                   k.size(3) == head_dim_ && v.sizes() == k.sizes(),
               InvalidArgument, "KVCache: k and v must be [1, {}, S, {}], got {} and {}",
               num_kv_heads_, head_dim_, k.sizes(), v.sizes());
  const std::int64_t s = k.size(2);
  DUOGEN_CHECK(length_ + s <= capacity_, InvalidArgument,
               "KVCache: writing {} tokens after {} exceeds the capacity {} (reserve first)", s,
               length_, capacity_);
  keys_[layer].narrow(2, length_, s).copy_(k);
  values_[layer].narrow(2, length_, s).copy_(v);
  return {keys_[layer].narrow(2, 0, length_ + s), values_[layer].narrow(2, 0, length_ + s)};
}

void KVCache::commit(std::int64_t s) {
  DUOGEN_CHECK(s >= 0 && length_ + s <= capacity_, InvalidArgument,
               "KVCache: cannot commit {} tokens after {} (capacity {})", s, length_, capacity_);
  length_ += s;
}

void KVCache::truncate(std::int64_t length) {
  DUOGEN_CHECK(length >= 0 && length <= length_, InvalidArgument,
               "KVCache: cannot truncate to {} tokens, the cache holds {}", length, length_);
  length_ = length;
}

std::int64_t KVCache::bytes() const {
  std::int64_t total = 0;
  for (const auto& t : keys_) total += t.defined() ? static_cast<std::int64_t>(t.nbytes()) : 0;
  for (const auto& t : values_) total += t.defined() ? static_cast<std::int64_t>(t.nbytes()) : 0;
  return total;
}

}  // namespace duogen::qwen2_5_vl
