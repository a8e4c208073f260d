#include "runtime/attention_table.h"

#include <nlohmann/json.hpp>

#include <set>
#include <string_view>

#include "core/check.h"
#include "io/atomic_file.h"
#include "io/json_config.h"

namespace duogen::runtime {
namespace {

constexpr std::string_view kFormat = "duogen-attention-table";
constexpr int kVersion = 1;

std::string dtype_name(c10::ScalarType t) {
  switch (t) {
    case c10::kBFloat16: return "bf16";
    case c10::kHalf: return "fp16";
    case c10::kFloat: return "fp32";
    default: return c10::toString(t);
  }
}

// Parsing state: the file and the JSON path of the value at hand, for the messages.
struct Reader {
  std::string file;

  [[noreturn]] void fail(const std::string& where, const std::string& why) const {
    throw FormatError(fmt::format("{}: '{}' {}", file, where, why));
  }
  void only_keys(const nlohmann::json& obj, const std::string& where,
                 std::initializer_list<std::string_view> keys) const {
    if (!obj.is_object()) fail(where, "must be an object");
    for (const auto& [key, value] : obj.items()) {
      bool known = false;
      for (const std::string_view k : keys) known = known || k == key;
      if (!known) fail(where.empty() ? key : where + "." + key, "is not a key of the table");
    }
  }
  const nlohmann::json& need(const nlohmann::json& obj, const std::string& where,
                             std::string_view key) const {
    const std::string path = where.empty() ? std::string(key) : where + "." + std::string(key);
    if (!obj.contains(key)) fail(path, "is missing");
    return obj.at(std::string(key));
  }
  std::string string(const nlohmann::json& obj, const std::string& where,
                     std::string_view key) const {
    const nlohmann::json& v = need(obj, where, key);
    if (!v.is_string()) fail(where + "." + std::string(key), "must be a string");
    return v.get<std::string>();
  }
  std::int64_t positive(const nlohmann::json& obj, const std::string& where,
                        std::string_view key) const {
    const nlohmann::json& v = need(obj, where, key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1) {
      fail(where + "." + std::string(key), "must be a positive integer");
    }
    return v.get<std::int64_t>();
  }
  bool boolean(const nlohmann::json& obj, const std::string& where, std::string_view key) const {
    const nlohmann::json& v = need(obj, where, key);
    if (!v.is_boolean()) fail(where + "." + std::string(key), "must be true or false");
    return v.get<bool>();
  }

  ops::AttentionMeasurement measurement(const nlohmann::json& m, const std::string& where) const {
    only_keys(m, where,
              {"site", "dtype", "head_dim", "causal", "varlen", "seqlen_q", "seqlen_k", "ms"});
    ops::AttentionMeasurement out;
    const std::string site = string(m, where, "site");
    const auto parsed_site = ops::parse_site(site);
    if (!parsed_site) fail(where + ".site", fmt::format("= \"{}\" is not a call site", site));
    out.site = *parsed_site;
    const std::string dtype = string(m, where, "dtype");
    if (dtype == "bf16") {
      out.dtype = c10::kBFloat16;
    } else if (dtype == "fp16") {
      out.dtype = c10::kHalf;
    } else if (dtype == "fp32") {
      out.dtype = c10::kFloat;
    } else {
      fail(where + ".dtype", fmt::format("= \"{}\" is not bf16, fp16 or fp32", dtype));
    }
    out.head_dim = positive(m, where, "head_dim");
    out.causal = boolean(m, where, "causal");
    out.varlen = boolean(m, where, "varlen");
    out.seqlen_q = positive(m, where, "seqlen_q");
    out.seqlen_k = positive(m, where, "seqlen_k");
    const nlohmann::json& ms = need(m, where, "ms");
    if (!ms.is_object() || ms.empty()) fail(where + ".ms", "must be a non-empty object");
    for (const auto& [name, value] : ms.items()) {
      const auto backend = ops::parse_backend(name);
      if (!backend) fail(where + ".ms." + name, "is not an attention backend");
      if (!value.is_number() || value.get<double>() <= 0) {
        fail(where + ".ms." + name, "must be a positive time in milliseconds");
      }
      out.ms[*backend] = value.get<double>();
    }
    return out;
  }
};

}  // namespace

AttentionTable read_attention_table(const std::filesystem::path& path) {
  const nlohmann::json root = io::read_json_file(path);
  const Reader r{path.string()};
  r.only_keys(root, "", {"format", "version", "device", "compute_capability", "measurements"});
  if (r.string(root, "", "format") != kFormat) {
    r.fail("format", fmt::format("must be \"{}\"", kFormat));
  }
  const nlohmann::json& version = r.need(root, "", "version");
  if (!version.is_number_integer() || version.get<int>() != kVersion) {
    r.fail("version", fmt::format("must be {}", kVersion));
  }
  AttentionTable table;
  table.device = r.string(root, "", "device");
  table.compute_capability = r.string(root, "", "compute_capability");
  const nlohmann::json& list = r.need(root, "", "measurements");
  if (!list.is_array()) r.fail("measurements", "must be a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    table.measurements.push_back(r.measurement(list[i], fmt::format("measurements[{}]", i)));
  }
  return table;
}

std::string to_json(const AttentionTable& table) {
  nlohmann::json list = nlohmann::json::array();
  for (const ops::AttentionMeasurement& m : table.measurements) {
    nlohmann::json ms = nlohmann::json::object();
    for (const auto& [backend, t] : m.ms) ms[std::string(ops::backend_name(backend))] = t;
    list.push_back({{"site", std::string(ops::site_name(m.site))},
                    {"dtype", dtype_name(m.dtype)},
                    {"head_dim", m.head_dim},
                    {"causal", m.causal},
                    {"varlen", m.varlen},
                    {"seqlen_q", m.seqlen_q},
                    {"seqlen_k", m.seqlen_k},
                    {"ms", ms}});
  }
  const nlohmann::json root = {{"format", std::string(kFormat)},
                               {"version", kVersion},
                               {"device", table.device},
                               {"compute_capability", table.compute_capability},
                               {"measurements", list}};
  return root.dump(2) + "\n";
}

void write_attention_table(const std::filesystem::path& path, const AttentionTable& table) {
  io::write_file_atomically(path, to_json(table));
}

}  // namespace duogen::runtime
