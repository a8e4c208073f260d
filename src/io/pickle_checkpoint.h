// Recognises PyTorch pickle checkpoints (`*.pt`, `*.pth`, `*.bin`, `*.ckpt`) given where a
// safetensors file is expected, so the error can say what the file is and how to convert it
// instead of reporting a nonsensical safetensors header length.
//
// Detection is by content: torch.save's zip archive ("PK\x03\x04", torch >= 1.6) or a legacy
// pickle (0x80 then protocol 2..5); the model it holds is guessed from tensor names in the
// archive's uncompressed data.pkl (Cosmos DiT `net.x_embedder...`, Wan VAE `encoder.conv1...`,
// transformers `model.embed_tokens...`), falling back to the file extension.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace duogen::io {

// Whether the bytes start like a PyTorch pickle checkpoint.
bool looks_like_pickle_checkpoint(const std::uint8_t* data, std::size_t size);

// "PATH: a PyTorch checkpoint (torch.save zip archive), not safetensors; ... convert it with
// ..." for a file whose bytes look like one; nullopt otherwise.
std::optional<std::string> pickle_checkpoint_error(const std::filesystem::path& path,
                                                   const std::uint8_t* data,
                                                   std::size_t size);

// The same for a file on disk (read through a mapping); nullopt for a directory, a file that
// cannot be read, or one that is not a pickle checkpoint.
std::optional<std::string> pickle_checkpoint_error(const std::filesystem::path& path);

}  // namespace duogen::io
