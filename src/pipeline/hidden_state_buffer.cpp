#include "pipeline/hidden_state_buffer.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/check.h"

namespace duogen::pipeline {

HiddenStateBuffer::HiddenStateBuffer(std::int64_t capacity, std::int64_t grow_chunk)
    : initial_capacity_(capacity), grow_chunk_(grow_chunk) {
  DUOGEN_CHECK(capacity >= 0 && grow_chunk > 0, InvalidArgument,
               "hidden-state buffer: capacity {} and grow chunk {} must be >= 0 and > 0",
               capacity, grow_chunk);
}

void HiddenStateBuffer::append(const at::Tensor& chunk) {
  DUOGEN_CHECK(chunk.defined() && chunk.dim() == 3, InvalidArgument,
               "hidden states must be [entries, tokens, hidden], got {}",
               chunk.defined() ? chunk.sizes() : c10::IntArrayRef{});
  const std::int64_t n = chunk.size(1);
  if (buffer_.defined()) {
    DUOGEN_CHECK(chunk.size(0) == buffer_.size(0) && chunk.size(2) == buffer_.size(2) &&
                     chunk.scalar_type() == buffer_.scalar_type() &&
                     chunk.device() == buffer_.device(),
                 InvalidArgument, "hidden states {} {} do not continue the buffer's {} {}",
                 chunk.sizes(), c10::toString(chunk.scalar_type()), buffer_.sizes(),
                 c10::toString(buffer_.scalar_type()));
  }
  const std::int64_t needed = length_ + n;
  if (!buffer_.defined() || needed > buffer_.size(1)) {
    const std::int64_t grown = (needed + grow_chunk_ - 1) / grow_chunk_ * grow_chunk_;
    const std::int64_t capacity = buffer_.defined() ? grown : std::max(initial_capacity_, grown);
    at::Tensor bigger = at::empty({chunk.size(0), capacity, chunk.size(2)}, chunk.options());
    if (length_ > 0) bigger.narrow(1, 0, length_).copy_(buffer_.narrow(1, 0, length_));
    buffer_ = bigger;  // views handed out earlier keep the old storage alive
  }
  buffer_.narrow(1, length_, n).copy_(chunk);
  length_ = needed;
}

at::Tensor HiddenStateBuffer::prefix(std::int64_t end) const {
  DUOGEN_CHECK(end > 0 && end <= length_, InvalidArgument,
               "hidden states up to {} requested, the context has {} tokens", end, length_);
  return buffer_.narrow(1, 0, end);
}

}  // namespace duogen::pipeline
