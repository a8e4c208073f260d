// Qwen2.5-VL image preprocessing: the Pillow-exact bicubic resampler, image decoding, smart_resize
// and the full processor against transformers' Qwen2VLImageProcessorPil (goldens from
// tools/reference/dump_qwen2_5_vl_vision.py). Everything except JPEG decoding is bit-exact.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "duogen/error.h"
#include "image/resample.h"
#include "io/image_io.h"
#include "io/json_config.h"
#include "io/safetensors.h"
#include "models/qwen2_5_vl/image_processor.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::qwen2_5_vl {
namespace {

std::filesystem::path reference(const char* name) {
  return testing::data_dir() / "reference" / name;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Every golden case: input.<name> resized to expected.<name>'s size equals Pillow exactly.
TEST(ImageResample, MatchesPillowBitExact) {
  const auto file = io::SafetensorsFile::open(reference("image_resample.safetensors"));
  int cases = 0;
  for (const auto& info : file.tensors()) {
    if (info.name.rfind("input.", 0) != 0) continue;
    const std::string name = info.name.substr(6);
    SCOPED_TRACE(name);
    const at::Tensor input = file.tensor(info);
    const at::Tensor expected = file.tensor("expected." + name);
    const at::Tensor actual = image::resize_bicubic(input, expected.size(0), expected.size(1));
    ASSERT_EQ(actual.sizes(), expected.sizes());
    const auto mismatches = (actual != expected).sum().item<std::int64_t>();
    const auto max_diff =
        (actual.to(at::kInt) - expected.to(at::kInt)).abs().max().item<std::int32_t>();
    EXPECT_EQ(mismatches, 0) << "max level difference " << max_diff;
    ++cases;
  }
  EXPECT_EQ(cases, 8);
}

TEST(ImageResample, SameSizeIsACopyAndBadInputsThrow) {
  const at::Tensor img = at::randint(0, 256, {5, 7, 3}, at::TensorOptions().dtype(at::kByte));
  const at::Tensor same = image::resize_bicubic(img, 5, 7);
  EXPECT_TRUE(at::equal(same, img));
  EXPECT_NE(same.data_ptr(), img.data_ptr());
  EXPECT_THROW(image::resize_bicubic(img.to(at::kFloat), 3, 3), InvalidArgument);
  EXPECT_THROW(image::resize_bicubic(img[0], 3, 3), InvalidArgument);
  EXPECT_THROW(image::resize_bicubic(img, 0, 3), InvalidArgument);
  EXPECT_THROW(image::resize_bicubic(img, 3, -1), InvalidArgument);
}

// transformers' smart_resize on ties (70 -> 2.5 -> 2), both rescaling branches and tiny inputs.
TEST(SmartResize, MatchesTransformers) {
  const auto file = io::SafetensorsFile::open(reference("qwen2_5_vl.image_processor.safetensors"));
  const at::Tensor in = file.tensor("smart_resize.inputs");
  const at::Tensor expected = file.tensor("smart_resize.expected");
  ASSERT_GT(in.size(0), 20);
  for (std::int64_t i = 0; i < in.size(0); ++i) {
    const auto r = in[i];
    const ImageSize got = smart_resize(r[0].item<std::int64_t>(), r[1].item<std::int64_t>(), 28,
                                       r[2].item<std::int64_t>(), r[3].item<std::int64_t>());
    EXPECT_EQ(got.height, expected[i][0].item<std::int64_t>()) << "case " << i;
    EXPECT_EQ(got.width, expected[i][1].item<std::int64_t>()) << "case " << i;
  }
  EXPECT_THROW(smart_resize(10, 2500, 28, 3136, 1003520), InvalidArgument);  // aspect > 200
  EXPECT_THROW(smart_resize(0, 20, 28, 3136, 1003520), InvalidArgument);
}

// The worked examples of architecture.md §3.2 (max side 480).
TEST(SmartResize, DuoGenCapExamples) {
  ImageProcessorConfig config;
  config.max_pixels = 12845056;
  const ImageProcessor processor(config);
  EXPECT_EQ(cap_max_side({768, 768}, 480), (ImageSize{480, 480}));
  EXPECT_EQ(processor.target_size(768, 768), (ImageSize{476, 476}));
  EXPECT_EQ(processor.target_size(480, 360), (ImageSize{476, 364}));
  EXPECT_EQ(cap_max_side({1000, 10}, 480), (ImageSize{480, 5}));
  EXPECT_EQ(cap_max_side({300, 200}, 480), (ImageSize{300, 200}));
  EXPECT_EQ(cap_max_side({3000, 2000}, 0), (ImageSize{3000, 2000}));
}

// Files -> pixel_values and grid_thw, bit-exact against Qwen2VLImageProcessorPil for PNG (RGB,
// RGBA composited on white, grey, grey+alpha), GIF (first frame of a palette animation) and
// BMP, with smart_resize up- and downscaling and the DuoGen max-side cap.
TEST(ImageProcessor, MatchesTransformersPilBackend) {
  const auto path = reference("qwen2_5_vl.image_processor.safetensors");
  const auto file = io::SafetensorsFile::open(path);
  const auto cases = nlohmann::json::parse(file.metadata().at("cases"));
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& [name, c] : cases.items()) {
    SCOPED_TRACE(name);
    ImageProcessorConfig config;
    config.min_pixels = c.at("min_pixels").get<std::int64_t>();
    config.max_pixels = c.at("max_pixels").get<std::int64_t>();
    config.max_side = c.at("max_side").get<std::int64_t>();
    std::vector<std::filesystem::path> files;
    for (const auto& f : c.at("files"))
      files.push_back(testing::data_dir() / "images" / f.get<std::string>());
    const auto out = ImageProcessor(config).process_files(files);
    const at::Tensor grid = file.tensor(name + ".image_grid_thw");
    EXPECT_TRUE(at::equal(out.grid_thw, grid)) << out.grid_thw << grid;
    const at::Tensor frame0 = file.tensor(name + ".pixel_values_frame0");  // [N, 3, 14, 14]
    ASSERT_EQ(out.pixel_values.scalar_type(), at::kFloat);
    ASSERT_EQ(out.pixel_values.sizes(), (std::vector<std::int64_t>{frame0.size(0), 1176}));
    const at::Tensor patches = out.pixel_values.view({-1, 3, 2, 14, 14});
    EXPECT_TRUE(at::equal(patches.select(2, 0), frame0))
        << "max diff " << (patches.select(2, 0) - frame0).abs().max().item<float>();
    EXPECT_TRUE(at::equal(patches.select(2, 1), frame0));  // the frame is repeated (T = 2)
    const auto counts = ImageProcessor(config).token_counts(grid);
    ASSERT_EQ(counts.size(), static_cast<std::size_t>(grid.size(0)));
    std::int64_t total = 0;
    for (auto n : counts) total += n;
    EXPECT_EQ(total * 4, frame0.size(0));
  }
}

// stb_image's JPEG decoder is not libjpeg's (IDCT and chroma upsampling differ), so JPEG input
// is not bit-exact. Measured on the golden photo (quality 90, 4:2:0): max |stb - Pillow| = 3
// levels, mean 0.08; the bounds leave room for other JPEGs' content, not for a broken decoder.
TEST(ImageIo, JpegCloseToPillow) {
  const auto file = io::SafetensorsFile::open(reference("qwen2_5_vl.image_processor.safetensors"));
  const at::Tensor pillow = file.tensor("jpeg.pillow_rgb").to(at::kInt);
  const at::Tensor stb =
      io::read_image_rgb(testing::data_dir() / "images/qwen2_5_vl/photo_48x64.jpg").to(at::kInt);
  ASSERT_EQ(stb.sizes(), pillow.sizes());
  const at::Tensor diff = (stb - pillow).abs();
  std::printf("[ jpeg ] stb vs Pillow: max %d levels, mean %.3f\n", diff.max().item<std::int32_t>(),
              diff.to(at::kDouble).mean().item<double>());
  EXPECT_LE(diff.max().item<std::int32_t>(), 6);
  EXPECT_LE(diff.to(at::kDouble).mean().item<double>(), 0.5);
}

// Pillow's alpha_composite over white: transparent -> white, opaque -> unchanged, and the
// grey+alpha PNG loses its alpha in kDrop mode but blends in kCompositeOnWhite mode.
TEST(ImageIo, AlphaModes) {
  at::Tensor rgba = at::randint(0, 256, {4, 64, 4}, at::TensorOptions().dtype(at::kByte));
  rgba.select(2, 3)[0].fill_(0);
  rgba.select(2, 3)[1].fill_(255);
  const at::Tensor rgb = io::composite_on_white(rgba);
  EXPECT_TRUE((rgb[0] == 255).all().item<bool>());
  EXPECT_TRUE(at::equal(rgb[1], rgba[1].slice(1, 0, 3)));
  const auto la = testing::data_dir() / "images/qwen2_5_vl/grey_alpha_30x40.png";
  const at::Tensor dropped = io::read_image_rgb(la, io::AlphaMode::kDrop);
  const at::Tensor blended = io::read_image_rgb(la, io::AlphaMode::kCompositeOnWhite);
  EXPECT_EQ(dropped.sizes(), (std::vector<std::int64_t>{30, 40, 3}));
  EXPECT_TRUE(at::equal(dropped.select(2, 0), dropped.select(2, 1)));  // grey expanded
  EXPECT_FALSE(at::equal(dropped, blended));
  EXPECT_THROW(io::composite_on_white(rgba.slice(2, 0, 3)), InvalidArgument);
}

TEST(ImageProcessor, ConfigFromDirectory) {
  const auto dir = testing::make_temp_dir("qwen_preproc");
  EXPECT_EQ(ImageProcessorConfig::from_directory(dir).max_pixels, 28 * 28 * 1280);  // no file
  testing::write_bytes(dir / "preprocessor_config.json", R"({
    "min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2,
    "merge_size": 2, "image_mean": [0.5, 0.25, 0.125], "image_std": [0.2, 0.3, 0.4],
    "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2_5_VLProcessor"})");
  const auto c = ImageProcessorConfig::from_directory(dir);
  EXPECT_EQ(c.max_pixels, 12845056);
  EXPECT_EQ(c.image_mean[2], 0.125);
  EXPECT_EQ(c.image_std[1], 0.3);
  EXPECT_EQ(c.max_side, 480);  // DuoGen's cap is not in the file
  // The nested `size` form newer transformers saves; top-level min/max_pixels would override it.
  testing::write_bytes(dir / "preprocessor_config.json",
                       R"({"size": {"shortest_edge": 100, "longest_edge": 5000}})");
  EXPECT_EQ(ImageProcessorConfig::from_directory(dir).min_pixels, 100);
  EXPECT_EQ(ImageProcessorConfig::from_directory(dir).max_pixels, 5000);
  testing::write_bytes(dir / "preprocessor_config.json", R"({"image_mean": [0.5, 0.5]})");
  const auto msg = message_of([&] { ImageProcessorConfig::from_directory(dir); });
  EXPECT_NE(msg.find("preprocessor_config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("image_mean"), std::string::npos) << msg;
  testing::write_bytes(dir / "preprocessor_config.json", R"({"resample": 2})");
  EXPECT_THROW(ImageProcessorConfig::from_directory(dir), FormatError);
  std::filesystem::remove_all(dir);
}

TEST(ImageProcessor, BadInputsThrow) {
  const ImageProcessor processor(ImageProcessorConfig{});
  const auto dir = testing::make_temp_dir("qwen_preproc_bad");
  testing::write_bytes(dir / "bad.png", "this is not an image");
  const auto msg = message_of([&] { processor.process_files({dir / "bad.png"}); });
  EXPECT_NE(msg.find("bad.png"), std::string::npos) << msg;
  EXPECT_THROW(processor.process_files({dir / "bad.png"}), FormatError);
  EXPECT_THROW(processor.process_files({dir / "missing.png"}), IoError);
  EXPECT_THROW(processor.process({}), InvalidArgument);
  EXPECT_THROW(processor.process({at::zeros({8, 8, 3}, at::kFloat)}), InvalidArgument);
  EXPECT_THROW(processor.process({at::zeros({8, 8, 4}, at::kByte)}), InvalidArgument);
  EXPECT_THROW(processor.patchify(at::zeros({56, 50, 3}, at::kByte)), InvalidArgument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace duogen::qwen2_5_vl
