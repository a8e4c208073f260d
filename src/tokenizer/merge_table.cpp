#include "tokenizer/merge_table.h"

namespace duogen::tokenizer {

void MergeTable::reserve(std::size_t count) {
  // Load factor at most 1/2 keeps probe sequences short.
  std::size_t capacity = 2;
  int bits = 1;
  while (capacity < 2 * count) {
    capacity *= 2;
    ++bits;
  }
  if (capacity <= keys_.size()) return;
  std::vector<std::uint64_t> old_keys = std::move(keys_);
  std::vector<Merge> old_values = std::move(values_);
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, Merge{});
  mask_ = capacity - 1;
  shift_ = 64 - bits;
  size_ = 0;
  for (std::size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] != kEmpty) {
      insert(static_cast<std::int32_t>(old_keys[i] >> 32),
             static_cast<std::int32_t>(old_keys[i] & 0xFFFFFFFFu), old_values[i]);
    }
  }
}

bool MergeTable::insert(std::int32_t left, std::int32_t right, Merge merge) {
  if (2 * (size_ + 1) > keys_.size()) reserve(size_ + 1 > 8 ? 2 * (size_ + 1) : 8);
  const std::uint64_t key = pack(left, right);
  for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
    if (keys_[i] == key) {
      values_[i] = merge;
      return false;
    }
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      values_[i] = merge;
      ++size_;
      return true;
    }
  }
}

}  // namespace duogen::tokenizer
