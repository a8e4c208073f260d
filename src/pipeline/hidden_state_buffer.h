// The MLLM hidden states DuoGen keeps for every context token (all layers, for the connector;
// architecture.md §7.1), in one preallocated [entries, capacity, hidden] buffer written chunk by
// chunk, so a long conversation neither re-concatenates per image nor fragments the allocator.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace duogen::pipeline {

class HiddenStateBuffer {
 public:
  // capacity: tokens allocated on the first append; past it the buffer grows to the next
  // multiple of grow_chunk (one copy).
  explicit HiddenStateBuffer(std::int64_t capacity = 4096, std::int64_t grow_chunk = 256);

  // Appends chunk [entries, n, hidden]; the first chunk fixes entries, hidden, dtype and device.
  // Throws InvalidArgument for a chunk of another shape, dtype or device.
  void append(const at::Tensor& chunk);
  // A view of the first `end` tokens [entries, end, hidden] (valid until the next clear(); later
  // appends do not change it). Throws InvalidArgument outside [1, length()].
  at::Tensor prefix(std::int64_t end) const;
  void clear() { length_ = 0; }

  std::int64_t length() const { return length_; }
  std::int64_t capacity() const { return buffer_.defined() ? buffer_.size(1) : 0; }
  std::int64_t bytes() const {
    return buffer_.defined() ? static_cast<std::int64_t>(buffer_.nbytes()) : 0;
  }

 private:
  std::int64_t initial_capacity_, grow_chunk_;
  std::int64_t length_ = 0;
  at::Tensor buffer_;  // [entries, capacity, hidden]
};

}  // namespace duogen::pipeline
