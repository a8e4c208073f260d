#include "testing/fixtures.h"

#include <ATen/ops/empty.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "io/checkpoint.h"
#include "testing/test_paths.h"

namespace duogen::testing {

void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) throw std::runtime_error("cannot write " + path.string());
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) throw std::runtime_error("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tensor_bytes(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

at::Tensor random_tensor(DType dtype, std::vector<std::int64_t> shape, std::uint64_t seed) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(to_scalar_type(dtype)));
  auto* bytes = static_cast<std::uint8_t*>(t.data_ptr());
  std::mt19937_64 rng(seed);
  const std::size_t n = t.numel() * element_size(dtype);
  for (std::size_t i = 0; i < n; ++i) {
    bytes[i] = static_cast<std::uint8_t>(dtype == DType::kBool ? rng() & 1 : rng());
  }
  return t;
}

std::string safetensors_bytes(std::string_view header_json, std::string_view data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(header_json.size() >> (8 * i));
  out.append(header_json);
  out.append(data);
  return out;
}

void write_checkpoint(const std::filesystem::path& dir, const std::vector<Shard>& shards,
                      bool with_index) {
  nlohmann::json weight_map = nlohmann::json::object();
  for (const auto& shard : shards) {
    io::write_safetensors(dir / shard.file_name, shard.tensors);
    for (const auto& [name, t] : shard.tensors) weight_map[name] = shard.file_name;
  }
  if (with_index) {
    write_bytes(dir / io::kIndexFileName,
                nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}
                    .dump());
  }
}

std::filesystem::path malformed_dir() { return data_dir() / "malformed"; }

std::vector<MalformedCase> malformed_cases() {
  const auto cases = nlohmann::json::parse(read_bytes(malformed_dir() / "cases.json"));
  std::vector<MalformedCase> out;
  for (const auto& c : cases) {
    out.push_back({c.at("path"), c.at("kind") == "directory", c.at("error"), c.at("fragment"),
                   c.at("names").get<std::vector<std::string>>()});
  }
  return out;
}

}  // namespace duogen::testing
