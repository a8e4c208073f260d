#include "io/pickle_checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "duogen/error.h"
#include "io/mapped_file.h"

namespace duogen::io {
namespace {

enum class Holds { kCosmosDiT, kWanVAE, kTransformers, kUnknown };

// torch.save writes archive/data.pkl (uncompressed) first, so names sit near the start.
constexpr std::size_t kScanBytes = 64u << 20;

bool contains(const std::uint8_t* data, std::size_t size, std::string_view needle) {
  const auto* begin = reinterpret_cast<const char*>(data);
  const auto* end = begin + std::min(size, kScanBytes);
  return std::search(begin, end, needle.begin(), needle.end()) != end;
}

Holds guess(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  // Distinctive tensor names of each model's state dict (architecture.md §6, §11.3, §12.3).
  constexpr std::array<std::pair<std::string_view, Holds>, 7> kMarkers = {{
      {"x_embedder.proj.1.weight", Holds::kCosmosDiT},
      {"t_embedding_norm.weight", Holds::kCosmosDiT},
      {"encoder.downsamples.", Holds::kWanVAE},
      {"decoder.upsamples.", Holds::kWanVAE},
      {"embed_tokens.weight", Holds::kTransformers},
      {"lm_head.weight", Holds::kTransformers},
      {"self_attn.q_proj.weight", Holds::kTransformers},
  }};
  for (const auto& [marker, holds] : kMarkers) {
    if (contains(data, size, marker)) return holds;
  }
  const std::string ext = path.extension().string();
  if (ext == ".bin") return Holds::kTransformers;
  return Holds::kUnknown;
}

std::string advice(Holds holds, const std::filesystem::path& path) {
  const std::string p = path.string();
  switch (holds) {
    case Holds::kCosmosDiT:
      return fmt::format(
          "it holds a Cosmos DiT in the original layout: convert it with `.venv/bin/python "
          "tools/convert/cosmos_dit_pt_to_safetensors.py {} OUT_DIR` and pass OUT_DIR",
          p);
    case Holds::kWanVAE:
      return fmt::format(
          "it holds a Wan2.1 VAE in the original layout: convert it with `.venv/bin/python "
          "tools/convert/wan_vae_pth_to_safetensors.py {} OUT_DIR` and pass OUT_DIR",
          p);
    case Holds::kTransformers:
      return "it holds a transformers model: re-save it as safetensors with transformers, "
             "`Qwen2_5_VLForConditionalGeneration.from_pretrained(DIR).save_pretrained(OUT_DIR, "
             "safe_serialization=True)`, and pass OUT_DIR";
    case Holds::kUnknown:
      break;
  }
  return fmt::format(
      "convert it first: a Cosmos DiT `.pt` with tools/convert/cosmos_dit_pt_to_safetensors.py, a "
      "Wan2.1 VAE `.pth` with tools/convert/wan_vae_pth_to_safetensors.py, a transformers "
      "`pytorch_model.bin` with transformers' save_pretrained(OUT_DIR, safe_serialization=True) "
      "(`{}` names none of their tensors duogen recognises)",
      p);
}

}  // namespace

bool looks_like_pickle_checkpoint(const std::uint8_t* data, std::size_t size) {
  if (size >= 4 &&
      std::equal(data, data + 4, reinterpret_cast<const std::uint8_t*>("PK\x03\x04"))) {
    return true;  // a zip archive: torch.save since 1.6 (and Lightning .ckpt)
  }
  return size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5;  // pickle PROTO 2..5
}

std::optional<std::string> pickle_checkpoint_error(const std::filesystem::path& path,
                                                   const std::uint8_t* data,
                                                   std::size_t size) {
  if (!looks_like_pickle_checkpoint(data, size)) return std::nullopt;
  const bool zip = data[0] == 'P';
  return fmt::format(
      "{}: this is a PyTorch pickle checkpoint ({}), not a safetensors file; duogen reads "
      "safetensors only (a pickle can run code when loaded): {}",
      path.string(), zip ? "a torch.save zip archive" : "a legacy torch.save / pickle file",
      advice(guess(path, data, size), path));
}

std::optional<std::string> pickle_checkpoint_error(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;  // a model directory
  try {
    const auto file = MappedFile::open(path);
    return pickle_checkpoint_error(path, file->data(), file->size());
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace duogen::io
