// Cosmos DiT and Wan VAE config fidelity: every key of a config.json diffusers 0.42.1 writes is
// read or listed as a no-op; variants of the honoured keys equal diffusers on weights cut from
// the tiny checkpoints (goldens from tools/reference/dump_diffusers_config_variants.py); refused
// values fail with a FormatError naming the file, the key and the value.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "io/checkpoint.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "models/cosmos_dit/config.h"
#include "models/wan_vae/config.h"
#include "testing/test_paths.h"
#include "verify/verifier.h"

namespace duogen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path reference(const std::string& name) {
  return testing::data_dir() / "reference" / (name + ".safetensors");
}

// The variant checkpoint: the base checkpoint's tensors with the golden's overrides and drops,
// and the golden's config.json.
fs::path assemble_variant(const std::string& name) {
  const auto variant = io::SafetensorsFile::open(reference(name + ".weights"));
  const auto& meta = variant.metadata();
  const auto base = io::Checkpoint::open(testing::data_dir() / meta.at("base"));
  const auto drop = json::parse(meta.at("drop")).get<std::vector<std::string>>();
  io::NamedTensors tensors;
  for (const auto& n : base.names()) {
    if (std::find(drop.begin(), drop.end(), n) != drop.end()) continue;
    tensors.emplace_back(n, variant.find(n) ? variant.tensor(n) : base.tensor(n));
  }
  const fs::path dir = testing::make_temp_dir(name.c_str());
  io::write_safetensors(dir / "model.safetensors", tensors);
  std::ofstream(dir / "config.json") << json::parse(meta.at("config")).dump(1);
  return dir;
}

// fp32 CPU against diffusers, reduction order only (written beside the goldens): 1e-5.
TEST(DiffusersConfigVariants, HonouredVariantsMatchDiffusers) {
  for (const auto& [variant, dumps] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"cosmos_dit.variant_plain", {"cosmos_dit.variant_plain"}},
           {"cosmos_dit.variant_patch1", {"cosmos_dit.variant_patch1"}},
           {"wan_vae.variant_z8_gray",
            {"wan_vae.variant_z8_gray.encode", "wan_vae.variant_z8_gray.decode"}}}) {
    SCOPED_TRACE(variant);
    const fs::path dir = assemble_variant(variant);
    for (const auto& dump : dumps) {
      SCOPED_TRACE(dump);
      verify::VerifyOptions options;
      options.model = dir;
      options.reference = reference(dump);
      const auto report = verify::run_verify(options);
      ASSERT_FALSE(report.outputs.empty());
      for (const auto& o : report.outputs) {
        EXPECT_TRUE(o.shape_ok) << o.name;
        EXPECT_LE(o.rel_error, 1e-5) << o.name;
        std::printf("  %s %s rel %.3g\n", dump.c_str(), o.name.c_str(), o.rel_error);
      }
    }
    fs::remove_all(dir);
  }
}

TEST(DiffusersConfigVariants, EveryKeyDiffusersWritesIsKnown) {
  for (const auto& dir : {"tiny-cosmos2_5/transformer", "tiny-cosmos_dit"}) {
    SCOPED_TRACE(dir);
    const auto j = io::JsonObject::from_file(testing::data_dir() / dir / "config.json");
    EXPECT_EQ(cosmos_dit::Config::unknown_keys(j), std::vector<std::string>{});
  }
  for (const auto& dir : {"tiny-cosmos2_5/vae", "tiny-wan_vae"}) {
    SCOPED_TRACE(dir);
    const auto j = io::JsonObject::from_file(testing::data_dir() / dir / "config.json");
    EXPECT_EQ(wan_vae::Config::unknown_keys(j), std::vector<std::string>{});
  }
  for (const auto& variant : {"cosmos_dit.variant_plain", "cosmos_dit.variant_patch1"}) {
    const auto meta = io::SafetensorsFile::open(reference(std::string(variant) + ".weights"));
    const io::JsonObject j(json::parse(meta.metadata().at("config")), variant);
    EXPECT_EQ(cosmos_dit::Config::unknown_keys(j), std::vector<std::string>{});
  }
  // Unknown keys are ignored (diffusers ignores them too), and reported.
  const io::JsonObject j(json{{"extra_pos_embed_type", nullptr}, {"new_thing", 1}}, "c.json");
  EXPECT_EQ(cosmos_dit::Config::unknown_keys(j), std::vector<std::string>{"new_thing"});
  EXPECT_NO_THROW(cosmos_dit::Config::from_json(j));
}

struct Refusal {
  json config;
  std::string key;
};

template <typename Parse>
void expect_refusals(const std::vector<Refusal>& cases, Parse parse) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.config.dump());
    try {
      parse(io::JsonObject(c.config, "vae_or_dit/config.json"));
      ADD_FAILURE() << "accepted";
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("vae_or_dit/config.json: '" + c.key + "'", 0), 0u) << msg;
    }
  }
}

TEST(DiffusersConfigVariants, CosmosDiTRefusalsNameFileAndKey) {
  const json base = io::read_json_file(testing::data_dir() / "tiny-cosmos_dit/config.json");
  const auto with = [&](const char* key, json value) {
    json j = base;
    if (value.is_discarded()) {
      j.erase(key);
    } else {
      j[key] = value;
    }
    return j;
  };
  expect_refusals(
      {{with("extra_pos_embed_type", "learnable"), "extra_pos_embed_type"},
       {with("extra_pos_embed_type", json(json::value_t::discarded)), "extra_pos_embed_type"},
       {with("img_context_dim_in", 1152), "img_context_dim_in"}},
      [](const io::JsonObject& j) { return cosmos_dit::Config::from_json(j); });
  // Checked by validate(): the message names the file and the key too.
  try {
    cosmos_dit::Config::from_json(io::JsonObject(with("patch_size", {2, 2, 2}), "dit.json"));
    ADD_FAILURE() << "accepted a temporal patch";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("dit.json: patch_size"), std::string::npos) << e.what();
  }
}

TEST(DiffusersConfigVariants, WanVAERefusalsNameFileAndKey) {
  const json base = io::read_json_file(testing::data_dir() / "tiny-cosmos2_5/vae/config.json");
  const auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = value;
    return j;
  };
  expect_refusals({{with("is_residual", true), "is_residual"},
                   {with("patch_size", 2), "patch_size"},
                   {with("attn_scales", {0.5}), "attn_scales"},
                   {with("scale_factor_spatial", 16), "scale_factor_spatial"},
                   {with("scale_factor_temporal", 8), "scale_factor_temporal"},
                   {with("temperal_downsample", {false, false, true}), "scale_factor_temporal"},
                   {with("clip_output", false), "clip_output"}},
                  [](const io::JsonObject& j) { return wan_vae::Config::from_json(j); });
  // Accepted: the identity patch size, an unset one, and the dropout of training.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, json>>{{"patch_size", 1},
                                                 {"patch_size", nullptr},
                                                 {"dropout", 0.1},
                                                 {"scale_factor_spatial", nullptr},
                                                 {"clip_output", true}}) {
    EXPECT_NO_THROW(wan_vae::Config::from_json(io::JsonObject(with(key.c_str(), value), "v")))
        << key << " = " << value.dump();
  }
}

}  // namespace
}  // namespace duogen
