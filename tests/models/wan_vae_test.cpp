// Wan2.1 VAE: parity with diffusers AutoencoderKLWan on the tiny checkpoint (goldens from
// tools/reference/dump_wan_vae.py), the 2D single-image reduction against the 3D path, both
// checkpoint layouts, load errors, and image conversion.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "io/checkpoint.h"
#include "io/image_io.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "models/wan_vae/config.h"
#include "models/wan_vae/vae.h"
#include "models/wan_vae/weights.h"
#include "testing/test_paths.h"
#include "verify/reference_dump.h"
#include "verify/verifier.h"

namespace duogen::wan_vae {
namespace {

std::filesystem::path tiny_model() { return testing::data_dir() / "tiny-wan_vae"; }
std::filesystem::path golden(const std::string& name) {
  return testing::data_dir() / "reference" / ("wan_vae." + name + ".safetensors");
}

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>() /
         b.to(at::kDouble).norm().item<double>();
}

class WanVaeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("wan_vae"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A copy of the tiny checkpoint with its tensors renamed/changed by `edit` (return false to
  // drop a tensor).
  std::filesystem::path edited_copy(
      const std::function<bool(std::string&, at::Tensor&)>& edit) const {
    const auto out = dir_ / "edited";
    std::filesystem::create_directories(out);
    std::filesystem::copy_file(tiny_model() / "config.json", out / "config.json");
    const auto file = io::SafetensorsFile::open(tiny_model() / "model.safetensors");
    io::NamedTensors tensors;
    for (const auto& info : file.tensors()) {
      std::string name = info.name;
      at::Tensor t = file.tensor(info).clone();
      if (edit(name, t)) tensors.emplace_back(name, t);
    }
    io::write_safetensors(out / "model.safetensors", tensors);
    return out;
  }

  std::filesystem::path dir_;
};

// Every golden: duogen's output against diffusers' within the dump's tolerance (fp32: 1e-5
// relative, see dump_wan_vae.py for why).
TEST_F(WanVaeTest, MatchesDiffusers) {
  for (const char* name :
       {"encode.image", "encode.video", "decode.image", "decode.video", "encode.image_tiled",
        "decode.image_tiled", "encode.video_tiled", "decode.video_tiled"}) {
    SCOPED_TRACE(name);
    verify::VerifyOptions options;
    options.model = tiny_model();
    options.reference = golden(name);
    const auto report = verify::run_verify(options);
    ASSERT_FALSE(report.outputs.empty());
    for (const auto& c : report.outputs) {
      EXPECT_TRUE(c.shape_ok) << c.name;
      EXPECT_LE(c.rel_error, 1e-5) << c.name;
    }
    EXPECT_TRUE(report.passed());
  }
}

// bf16: the dump's tolerance is twice diffusers' own bf16-vs-fp32 error (measured by
// dump_wan_vae.py), so duogen's bf16 may differ from diffusers' bf16 by no more than bf16 moves
// the reference. The bound must also be a real one: well below 1 and above fp32 noise.
TEST_F(WanVaeTest, MatchesDiffusersInBf16) {
  for (const char* name : {"encode.image_bf16", "decode.image_bf16", "decode.video_bf16"}) {
    SCOPED_TRACE(name);
    verify::VerifyOptions options;
    options.model = tiny_model();
    options.reference = golden(name);
    const auto report = verify::run_verify(options);
    ASSERT_EQ(report.dtype, "bfloat16");
    EXPECT_GT(report.rtol, 1e-4);
    EXPECT_LT(report.rtol, 1e-1);
    ASSERT_FALSE(report.outputs.empty());
    for (const auto& c : report.outputs) {
      EXPECT_TRUE(c.shape_ok) << c.name;
      EXPECT_LE(c.rel_error, report.rtol) << c.name;
    }
    EXPECT_TRUE(report.passed());
  }
}

// The tiled goldens must actually differ from untiled output, or the tiled test proves nothing.
TEST_F(WanVaeTest, TiledGoldensDifferFromUntiled) {
  c10::InferenceMode guard;
  const auto dump = verify::ReferenceDump::load(golden("decode.image_tiled"));
  const auto vae = WanVAE::load(tiny_model(), {});
  const at::Tensor untiled = vae.decode(dump.inputs.at("latent"));
  EXPECT_GT(rel_error(untiled, dump.expected.at("decoded")), 1e-4);
}

// The single-image 2D network (last temporal tap) equals the chunked 3D path with T = 1, up to
// reduction order: conv2d vs conv3d over two zero frames sum the same products differently.
TEST_F(WanVaeTest, ImagePathEqualsThreeDPath) {
  c10::InferenceMode guard;
  VAEOptions options;
  const auto vae2d = WanVAE::load(tiny_model(), options);
  options.image_as_2d = false;
  const auto vae3d = WanVAE::load(tiny_model(), options);
  const at::Tensor image = at::rand({1, 3, 1, 24, 32}) * 2 - 1;
  const at::Tensor z2 = vae2d.encode(image), z3 = vae3d.encode(image);
  ASSERT_EQ(z2.sizes(), z3.sizes());
  EXPECT_EQ(z2.sizes(), (std::vector<std::int64_t>{1, 16, 1, 3, 4}));
  EXPECT_LE(rel_error(z2, z3), 1e-6);  // fp32 rounding of a ~40-layer stack
  const at::Tensor x2 = vae2d.decode(z3), x3 = vae3d.decode(z3);
  ASSERT_EQ(x2.sizes(), x3.sizes());
  EXPECT_LE(rel_error(x2, x3), 1e-6);
}

// The original-layout names duogen maps equal what diffusers' convert_wan_vae_to_diffusers
// produces (tests/data/reference/wan_vae_name_map.json), both ways.
TEST_F(WanVaeTest, LayoutMappingMatchesDiffusersConverter) {
  const auto map = io::read_json_file(testing::data_dir() / "reference/wan_vae_name_map.json");
  const auto config = Config::from_directory(tiny_model());
  ASSERT_GT(map.size(), 100u);
  for (const auto& [original, diffusers] : map.items()) {
    EXPECT_EQ(to_diffusers_name(original, config), diffusers.get<std::string>());
    EXPECT_EQ(to_original_name(diffusers.get<std::string>(), config), original);
  }
}

// A diffusers-layout copy (renamed by the reference converter's map) loads and gives the same
// latents as the original layout.
TEST_F(WanVaeTest, DiffusersLayoutLoadsAndAgrees) {
  c10::InferenceMode guard;
  const auto map = io::read_json_file(testing::data_dir() / "reference/wan_vae_name_map.json");
  const auto copy = edited_copy([&](std::string& name, at::Tensor&) {
    name = map.at(name).get<std::string>();
    return true;
  });
  EXPECT_EQ(detect_layout(io::Checkpoint::open(copy)), Layout::kDiffusers);
  EXPECT_EQ(detect_layout(io::Checkpoint::open(tiny_model())), Layout::kOriginal);
  const auto a = WanVAE::load(tiny_model(), {});
  const auto b = WanVAE::load(copy, {});
  EXPECT_EQ(b.layout(), Layout::kDiffusers);
  const at::Tensor image = at::rand({1, 3, 1, 16, 16}) * 2 - 1;
  EXPECT_TRUE(at::equal(a.encode(image), b.encode(image)));
}

TEST_F(WanVaeTest, MissingTensorIsNamed) {
  const auto copy = edited_copy([](std::string& name, at::Tensor&) {
    return name != "decoder.upsamples.7.time_conv.weight";
  });
  try {
    WanVAE::load(copy, {});
    FAIL() << "expected a WeightError";
  } catch (const WeightError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("decoder.up_blocks.1.upsamplers.0.time_conv.weight"), std::string::npos)
        << what;
    EXPECT_NE(what.find("decoder.upsamples.7.time_conv.weight"), std::string::npos) << what;
  }
}

TEST_F(WanVaeTest, WrongShapeIsNamed) {
  const auto copy = edited_copy([](std::string& name, at::Tensor& t) {
    if (name == "encoder.middle.1.to_qkv.weight") t = t.narrow(0, 0, t.size(0) - 1).clone();
    return true;
  });
  try {
    WanVAE::load(copy, {});
    FAIL() << "expected a WeightError";
  } catch (const WeightError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.middle.1.to_qkv.weight"), std::string::npos)
        << e.what();
  }
}

TEST_F(WanVaeTest, NotAVaeCheckpointIsRejected) {
  const auto copy = edited_copy([](std::string& name, at::Tensor&) {
    return !name.starts_with("encoder.conv1.");
  });
  EXPECT_THROW(WanVAE::load(copy, {}), FormatError);
}

TEST_F(WanVaeTest, ConfigRejectsUnsupportedVariants) {
  for (const char* json : {R"({"attn_scales": [1.0]})", R"({"is_residual": true})",
                           R"({"patch_size": 2})", R"({"z_dim": 8})",
                           R"({"temperal_downsample": [true]})"}) {
    SCOPED_TRACE(json);
    EXPECT_THROW(Config::from_json(io::JsonObject(nlohmann::json::parse(json), "config.json")),
                 FormatError);
  }
  const auto config = Config::from_json(io::JsonObject(nlohmann::json::object(), "config.json"));
  EXPECT_EQ(config.encoder_dims(), (std::vector<std::int64_t>{96, 96, 192, 384, 384}));
  EXPECT_EQ(config.decoder_dims(), (std::vector<std::int64_t>{384, 384, 384, 192, 96}));
}

TEST_F(WanVaeTest, BadInputShapesAreRejected) {
  const auto vae = WanVAE::load(tiny_model(), {});
  EXPECT_THROW(vae.encode(at::zeros({1, 3, 1, 12, 16})), InvalidArgument);  // H not /8
  EXPECT_THROW(vae.encode(at::zeros({1, 3, 2, 16, 16})), InvalidArgument);  // T != 1 + 4k
  EXPECT_THROW(vae.decode(at::zeros({1, 4, 1, 2, 2})), InvalidArgument);    // channels
}

TEST_F(WanVaeTest, Uint8RoundTripsThroughPixels) {
  const at::Tensor values = at::arange(256, at::kInt).to(at::kByte);
  const at::Tensor rgb = values.view({16, 16, 1}).expand({16, 16, 3}).contiguous();
  const at::Tensor pixels = pixels_from_image(rgb);
  EXPECT_EQ(pixels.sizes(), (std::vector<std::int64_t>{1, 3, 1, 16, 16}));
  EXPECT_FLOAT_EQ(pixels.min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(pixels.max().item<float>(), 1.0f);
  EXPECT_TRUE(at::equal(image_from_pixels(pixels), rgb));
}

TEST_F(WanVaeTest, PngRoundTripAndCorruptImage) {
  const at::Tensor rgb = at::randint(0, 256, {8, 16, 3}, at::kByte);
  io::write_png(dir_ / "a.png", rgb);
  EXPECT_TRUE(at::equal(io::read_image_rgb(dir_ / "a.png"), rgb));
  std::ofstream(dir_ / "bad.png") << "\x89PNG\r\n\x1a\n this is not a png";
  try {
    io::read_image_rgb(dir_ / "bad.png");
    FAIL() << "expected a FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.png"), std::string::npos) << e.what();
  }
  EXPECT_THROW(io::read_image_rgb(dir_ / "missing.png"), IoError);
}

// `duogen vae encode` then `decode` on the tiny checkpoint: latent file and PNG of the right
// shapes, the latent equal to the library's; a corrupt image exits 1 naming the file.
TEST_F(WanVaeTest, CliEncodesAndDecodes) {
  c10::InferenceMode guard;
  const at::Tensor rgb = at::randint(0, 256, {16, 24, 3}, at::kByte);
  io::write_png(dir_ / "in.png", rgb);
  const auto bin = testing::duogen_binary().string();
  const auto model = tiny_model().string();
  const auto run = [&](const std::string& args) {
    const std::string cmd = bin + " -v error " + args + " > " + (dir_ / "log.txt").string() + " 2>&1";
    return std::system(cmd.c_str());
  };
  ASSERT_EQ(run("vae encode --model " + model + " --image " + (dir_ / "in.png").string() +
                " --out " + (dir_ / "z.safetensors").string()),
            0);
  const at::Tensor z = io::SafetensorsFile::open(dir_ / "z.safetensors").tensor("latent");
  const auto vae = WanVAE::load(tiny_model(), {});
  EXPECT_TRUE(at::allclose(z, vae.encode(pixels_from_image(rgb)), 1e-6, 1e-6));
  ASSERT_EQ(run("vae decode --model " + model + " --latent " + (dir_ / "z.safetensors").string() +
                " --out " + (dir_ / "out.png").string()),
            0);
  EXPECT_EQ(io::read_image_rgb(dir_ / "out.png").sizes(), rgb.sizes());

  std::ofstream(dir_ / "corrupt.png") << "not an image";
  EXPECT_EQ(WEXITSTATUS(run("vae encode --model " + model + " --image " +
                            (dir_ / "corrupt.png").string() + " --out " +
                            (dir_ / "z2.safetensors").string())),
            1);
  std::stringstream log;
  log << std::ifstream(dir_ / "log.txt").rdbuf();
  EXPECT_NE(log.str().find("corrupt.png"), std::string::npos) << log.str();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "z2.safetensors"));
}

}  // namespace
}  // namespace duogen::wan_vae
