#include "models/cosmos_dit/embeddings.h"

#include <ATen/ATen.h>

#include <cmath>

#include "core/check.h"
#include "kernels/ops/rms_norm.h"

namespace duogen::cosmos_dit {

at::Tensor patchify(const at::Tensor& x, const std::array<std::int64_t, 3>& patch) {
  DUOGEN_CHECK(x.dim() == 5, InvalidArgument, "patchify: expected [B, C, T, H, W], got {}",
               x.sizes());
  const auto [pt, ph, pw] = patch;
  const std::int64_t b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  DUOGEN_CHECK(t % pt == 0 && h % ph == 0 && w % pw == 0, InvalidArgument,
               "patchify: frames/height/width {}x{}x{} must be multiples of the patch {}x{}x{}",
               t, h, w, pt, ph, pw);
  return x.reshape({b, c, t / pt, pt, h / ph, ph, w / pw, pw})
      .permute({0, 2, 4, 6, 1, 3, 5, 7})
      .reshape({b, (t / pt) * (h / ph) * (w / pw), c * pt * ph * pw});
}

at::Tensor unpatchify(const at::Tensor& tokens, std::int64_t frames, std::int64_t height,
                      std::int64_t width, const std::array<std::int64_t, 3>& patch,
                      std::int64_t channels) {
  const auto [pt, ph, pw] = patch;
  const std::int64_t b = tokens.size(0);
  DUOGEN_CHECK(tokens.dim() == 3 && tokens.size(1) == frames * height * width &&
                   tokens.size(2) == pt * ph * pw * channels,
               InvalidArgument, "unpatchify: tokens {} do not fit {}x{}x{} patches of {} features",
               tokens.sizes(), frames, height, width, pt * ph * pw * channels);
  // [B, T', H', W', ph, pw, pt, C] -> [B, C, T', pt, H', ph, W', pw]
  return tokens.reshape({b, frames, height, width, ph, pw, pt, channels})
      .permute({0, 7, 1, 6, 2, 4, 3, 5})
      .reshape({b, channels, frames * pt, height * ph, width * pw});
}

at::Tensor timestep_sinusoid(const at::Tensor& t, std::int64_t dim) {
  DUOGEN_CHECK(dim % 2 == 0, InvalidArgument, "timestep_sinusoid: dim {} must be even", dim);
  const std::int64_t half = dim / 2;
  // Same operation order as diffusers' get_timestep_embedding, so fp32 results match bitwise.
  const at::Tensor exponent =
      at::arange(half, t.options().dtype(at::kFloat)) * (-std::log(10000.0)) / static_cast<double>(half);
  const at::Tensor args = t.to(at::kFloat).unsqueeze(-1) * at::exp(exponent);
  return at::cat({at::cos(args), at::sin(args)}, -1);
}

TimeEmbedding::TimeEmbedding(const io::WeightView& time_embed, const Config& config)
    : dim_(config.hidden_size()) {
  const std::int64_t d = dim_;
  linear_1_ = time_embed.get("t_embedder.linear_1.weight", {d, d});
  linear_2_ = time_embed.get("t_embedder.linear_2.weight", {3 * d, d});
  norm_ = time_embed.get("norm.weight", {d});
  if (linear_1_.defined()) linear_1_ = linear_1_.to(at::kFloat);
  if (linear_2_.defined()) linear_2_ = linear_2_.to(at::kFloat);
  if (norm_.defined()) norm_ = norm_.to(at::kFloat);
}

TimeEmbedding::Output TimeEmbedding::forward(const at::Tensor& timesteps) const {
  const at::Tensor emb = timestep_sinusoid(timesteps.to(linear_1_.device()), dim_);
  Output out;
  out.lora = at::linear(at::silu(at::linear(emb, linear_1_)), linear_2_);
  out.embedded = ops::rms_norm(emb, norm_, 1e-6);
  return out;
}

}  // namespace duogen::cosmos_dit
