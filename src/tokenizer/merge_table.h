// An open-addressing hash table from a BPE merge (left id, right id) to its rank and the id of
// the merged token. It is read for every candidate pair while encoding, so it avoids the node
// allocations and pointer chasing of std::unordered_map.
#pragma once

#include <cstdint>
#include <vector>

namespace duogen::tokenizer {

struct Merge {
  std::int32_t rank;    // position in the merges list: lower merges first
  std::int32_t result;  // id of the merged token
};

class MergeTable {
 public:
  void reserve(std::size_t count);
  // Adds or replaces (left, right): like HF, which collects merges into a map, a repeated pair
  // keeps its last rank. Returns false when the pair was already present.
  bool insert(std::int32_t left, std::int32_t right, Merge merge);
  const Merge* find(std::int32_t left, std::int32_t right) const {
    const std::uint64_t key = pack(left, right);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t pack(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
           static_cast<std::uint32_t>(right);
  }
  std::size_t slot(std::uint64_t key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  // Two empty slots (1 hash bit) so that find() works on a default-constructed table.
  std::vector<std::uint64_t> keys_ = std::vector<std::uint64_t>(2, kEmpty);
  std::vector<Merge> values_ = std::vector<Merge>(2);
  std::size_t mask_ = 1;
  int shift_ = 63;
  std::size_t size_ = 0;
};

}  // namespace duogen::tokenizer
