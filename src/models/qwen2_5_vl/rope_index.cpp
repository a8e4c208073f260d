#include "models/qwen2_5_vl/rope_index.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/check.h"

namespace duogen::qwen2_5_vl {

std::int64_t merged_token_count(const ImageGrid& grid, std::int64_t spatial_merge_size) {
  const std::int64_t m = spatial_merge_size;
  DUOGEN_CHECK(grid.t > 0 && grid.h > 0 && grid.w > 0 && grid.h % m == 0 && grid.w % m == 0,
               InvalidArgument,
               "image grid (t={}, h={}, w={}) must be positive with h and w divisible by the "
               "spatial merge size {}",
               grid.t, grid.h, grid.w, m);
  return grid.t * (grid.h / m) * (grid.w / m);
}

RopeIndex compute_rope_index(const at::Tensor& ids,
                             const std::vector<ImageGrid>& grids,
                             const RopeIndexOptions& options,
                             std::int64_t start_position) {
  DUOGEN_CHECK(
      ids.scalar_type() == at::kLong && (ids.dim() == 1 || (ids.dim() == 2 && ids.size(0) == 1)),
      InvalidArgument, "rope index: input ids must be int64 [T] or [1, T], got {} {}",
      c10::toString(ids.scalar_type()), ids.sizes());
  const at::Tensor flat = ids.reshape({-1}).to(at::kCPU).contiguous();
  const std::int64_t n = flat.numel();
  const auto* id = flat.data_ptr<std::int64_t>();
  at::Tensor positions = at::empty({3, n}, at::kLong);
  auto* pt = positions[0].data_ptr<std::int64_t>();
  auto* ph = positions[1].data_ptr<std::int64_t>();
  auto* pw = positions[2].data_ptr<std::int64_t>();

  std::int64_t next = start_position;
  std::size_t image = 0;
  for (std::int64_t i = 0; i < n;) {
    if (id[i] != options.image_token_id) {
      pt[i] = ph[i] = pw[i] = next++;
      ++i;
      continue;
    }
    DUOGEN_CHECK(image < grids.size(), InvalidArgument,
                 "rope index: image token at index {} but only {} image grid(s) given", i,
                 grids.size());
    const ImageGrid& g = grids[image];
    const std::int64_t count = merged_token_count(g, options.spatial_merge_size);
    const std::int64_t gh = g.h / options.spatial_merge_size;
    const std::int64_t gw = g.w / options.spatial_merge_size;
    DUOGEN_CHECK(i + count <= n, InvalidArgument,
                 "rope index: image {} needs {} image tokens from index {}, the sequence has {}",
                 image, count, i, n);
    for (std::int64_t k = 0; k < count; ++k) {
      DUOGEN_CHECK(id[i + k] == options.image_token_id, InvalidArgument,
                   "rope index: image {} needs {} consecutive image tokens from index {}, token "
                   "{} is {}",
                   image, count, i, i + k, id[i + k]);
      // Raster order over (t', h', w').
      pt[i + k] = next + k / (gh * gw);
      ph[i + k] = next + (k / gw) % gh;
      pw[i + k] = next + k % gw;
    }
    next += std::max(gh, gw);
    i += count;
    ++image;
  }
  DUOGEN_CHECK(image == grids.size(), InvalidArgument,
               "rope index: {} image grid(s) given but the ids hold {} image(s)", grids.size(),
               image);
  return {positions, next};
}

}  // namespace duogen::qwen2_5_vl
