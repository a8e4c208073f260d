#include "models/cosmos_dit/connector.h"

#include <ATen/ATen.h>

#include "core/check.h"

namespace duogen::cosmos_dit {

at::Tensor concat_normalized_layers(const at::Tensor& hidden_states, std::int64_t in_channels) {
  DUOGEN_CHECK(hidden_states.dim() == 3 || hidden_states.dim() == 4, InvalidArgument,
               "connector: hidden_states_all_layers must be [layers, tokens, hidden] or [batch, "
               "layers, tokens, hidden], got {}",
               hidden_states.sizes());
  const bool batched = hidden_states.dim() == 4;
  const at::Tensor hs = batched ? hidden_states : hidden_states.unsqueeze(0);
  const std::int64_t entries = hs.size(1), hidden = hs.size(3);
  std::int64_t first = 0;
  if (entries * hidden == in_channels) {
    first = 0;
  } else if ((entries - 1) * hidden == in_channels) {
    first = 1;  // HF's tuple: entry 0 is the embedding output, which Cosmos does not use
  } else {
    DUOGEN_FAIL(InvalidArgument,
                "connector: {} layer entries of width {} do not give the connector's {} input "
                "channels (neither {} x {} nor ({} - 1) x {})",
                entries, hidden, in_channels, entries, hidden, entries, hidden);
  }
  const at::Tensor x = hs.slice(1, first).to(at::kFloat);  // [B, E', T, H]
  const at::Tensor mean = x.mean(-1, /*keepdim=*/true);
  const at::Tensor std = x.std(-1, /*unbiased=*/true, /*keepdim=*/true);
  const at::Tensor normed = (x - mean) / (std + 1e-8);
  // [B, E', T, H] -> [B, T, E', H] -> [B, T, E' H]: channels [k H, (k+1) H) are entry k.
  at::Tensor out = normed.permute({0, 2, 1, 3})
                       .reshape({hs.size(0), hs.size(2), (entries - first) * hidden})
                       .to(hidden_states.scalar_type());
  return batched ? out : out.squeeze(0);
}

LinearGeluConnector::LinearGeluConnector(const io::WeightView& root, std::int64_t in_channels,
                                         std::int64_t out_channels, c10::ScalarType dtype)
    : in_(in_channels), out_(out_channels), dtype_(dtype) {
  const auto proj = root.sub("crossattn_proj.0");
  weight_ = proj.get("weight", {out_channels, in_channels});
  bias_ = proj.get("bias", {out_channels});
}

at::Tensor LinearGeluConnector::forward(const at::Tensor& features) const {
  DUOGEN_CHECK(features.dim() >= 1 && features.size(-1) == in_, InvalidArgument,
               "connector {}: input has {} channels, expected {}", kind(),
               features.dim() == 0 ? 0 : features.size(-1), in_);
  return at::gelu(at::linear(features.to(weight_.device(), dtype_), weight_, bias_));
}

at::Tensor IdentityConnector::forward(const at::Tensor& features) const {
  DUOGEN_CHECK(features.dim() >= 1 && features.size(-1) == channels_, InvalidArgument,
               "connector {}: input has {} channels, expected {}", kind(),
               features.dim() == 0 ? 0 : features.size(-1), channels_);
  return features.to(dtype_);
}

std::unique_ptr<Connector> load_connector(const io::WeightView& root, const Config& config,
                                          c10::ScalarType dtype) {
  if (config.use_crossattn_projection) {
    return std::make_unique<LinearGeluConnector>(root, config.crossattn_proj_in_channels,
                                                 config.encoder_hidden_states_channels, dtype);
  }
  return std::make_unique<IdentityConnector>(config.text_embed_dim, dtype);
}

}  // namespace duogen::cosmos_dit
