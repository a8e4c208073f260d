// M-RoPE position ids (architecture.md §5.4), as transformers 5.23 `Qwen2_5_VLModel.get_rope_index`
// computes them for images, extended to sequences built up chunk by chunk.
//
// Walking the tokens with `next` = the next free position: a text token gets (next, next, next)
// and advances next by 1; an image whose merged grid is t' x h' x w' covers t'·h'·w' consecutive
// image tokens in raster order, token (i, j, k) getting (s + i, s + j, s + k) with s = next, and
// advances next by max(h', w') (transformers adds max(grid_h, grid_w) / merge, not t').
// Positions of earlier tokens never depend on later ones, so a chunk appended after a prefill or
// mid-decode (generated text, a generated image) continues from the previous `next`: this equals
// get_rope_index over the whole sequence, and decode positions equal transformers'
// `cache_position + rope_deltas`, since rope_delta = next - sequence length.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace duogen::qwen2_5_vl {

// An image's patch grid before the 2x2 merge: the rows of `image_grid_thw`.
struct ImageGrid {
  std::int64_t t = 1;
  std::int64_t h = 0;
  std::int64_t w = 0;
};

struct RopeIndexOptions {
  std::int64_t image_token_id = 151655;
  std::int64_t spatial_merge_size = 2;
};

struct RopeIndex {
  at::Tensor positions;            // int64 [3, T]: t, h, w streams
  std::int64_t next_position = 0;  // max position + 1 (start_position for an empty chunk)
};

// Positions of `ids` (int64, [T] or [1, T]) whose images have `grids` in order, starting at
// `start_position`. Throws InvalidArgument when the image tokens do not match the grids (count,
// run lengths, grids not divisible by the merge size).
RopeIndex compute_rope_index(const at::Tensor& ids,
                             const std::vector<ImageGrid>& grids,
                             const RopeIndexOptions& options,
                             std::int64_t start_position = 0);

// Number of LLM tokens an image grid becomes after the spatial merge: t·(h/m)·(w/m).
std::int64_t merged_token_count(const ImageGrid& grid, std::int64_t spatial_merge_size);

// transformers' rope_deltas for a sequence of `length` tokens whose next free position is
// `next_position`.
inline std::int64_t rope_delta(std::int64_t next_position, std::int64_t length) {
  return next_position - length;
}

}  // namespace duogen::qwen2_5_vl
