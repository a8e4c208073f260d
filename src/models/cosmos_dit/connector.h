// MLLM -> DiT conditioning (architecture.md §7): all-layer hidden states, normalised per token
// and per layer, concatenated along channels, then a connector projects them to the DiT's
// cross-attention width.
//
//   at::Tensor feats = concat_normalized_layers(hidden_states, connector.in_channels());
//   at::Tensor context = connector.forward(feats);    // [B, L, text_embed_dim]
//
// The connector is pluggable: `Connector` is the interface, `load_connector` picks the
// implementation from the config and weights. Today:
//   LinearGeluConnector  `crossattn_proj.0` Linear(in -> out, bias) + exact GELU (Cosmos-Predict2.5,
//                        config `use_crossattn_projection: true`); the default DuoGen recipe.
//   IdentityConnector    no projection (`use_crossattn_projection: false`): the context arrives at
//                        text_embed_dim already.
// A DuoGen release with a different "lightweight connector" adds a class here and a branch in
// load_connector; nothing else changes.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>

#include "io/weight_loader.h"
#include "models/cosmos_dit/config.h"

namespace duogen::cosmos_dit {

// hidden_states [E, T, H] or [B, E, T, H]: E per-layer hidden states of T tokens. `in_channels`
// (the connector input width) selects the entries: E * H == in_channels uses all of them (the
// caller already picked HF entries 1..L); (E - 1) * H == in_channels drops entry 0 (HF's full
// `hidden_states` tuple, whose entry 0 is the embedding output). Each entry is normalised per
// token over channels, (x - mean) / (std + 1e-8) with the unbiased std (torch's default), in fp32,
// then the entries are concatenated layer-major: returns [T, E' H] or [B, T, E' H] in
// hidden_states' dtype. Throws InvalidArgument when neither count fits.
at::Tensor concat_normalized_layers(const at::Tensor& hidden_states, std::int64_t in_channels);

class Connector {
 public:
  virtual ~Connector() = default;
  // features [..., in_channels] -> context [..., out_channels] in the connector's dtype.
  virtual at::Tensor forward(const at::Tensor& features) const = 0;
  virtual std::int64_t in_channels() const = 0;
  virtual std::int64_t out_channels() const = 0;
  virtual const char* kind() const = 0;
};

class LinearGeluConnector final : public Connector {
 public:
  // Reads `crossattn_proj.0.weight` [out, in] and `.bias` [out] from `root`.
  LinearGeluConnector(const io::WeightView& root, std::int64_t in_channels,
                      std::int64_t out_channels, c10::ScalarType dtype);
  at::Tensor forward(const at::Tensor& features) const override;
  std::int64_t in_channels() const override { return in_; }
  std::int64_t out_channels() const override { return out_; }
  const char* kind() const override { return "crossattn_proj (Linear + GELU)"; }

 private:
  std::int64_t in_, out_;
  c10::ScalarType dtype_;
  at::Tensor weight_, bias_;
};

class IdentityConnector final : public Connector {
 public:
  IdentityConnector(std::int64_t channels, c10::ScalarType dtype) : channels_(channels), dtype_(dtype) {}
  at::Tensor forward(const at::Tensor& features) const override;
  std::int64_t in_channels() const override { return channels_; }
  std::int64_t out_channels() const override { return channels_; }
  const char* kind() const override { return "identity"; }

 private:
  std::int64_t channels_;
  c10::ScalarType dtype_;
};

// The connector `config` and the checkpoint describe (tensors are read from `root`, the DiT's
// root view, so missing ones land in the same load report).
std::unique_ptr<Connector> load_connector(const io::WeightView& root, const Config& config,
                                          c10::ScalarType dtype);

}  // namespace duogen::cosmos_dit
