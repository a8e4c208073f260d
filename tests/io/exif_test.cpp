// EXIF orientation against Pillow's ImageOps.exif_transpose (goldens from
// tools/reference/make_exif_images.py): PNG eXIf chunks for all eight orientations, JPEG APP1
// segments (little- and big-endian TIFF), and damaged blocks that must be ignored.
#include "io/exif.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "io/image_io.h"
#include "io/safetensors.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

std::filesystem::path images() { return testing::data_dir() / "images" / "exif"; }

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Exif, ImagesComeOutAsPillowTurnsThem) {
  const auto golden = SafetensorsFile::open(testing::data_dir() / "reference" /
                                            "exif_orientation.safetensors");
  ASSERT_EQ(golden.tensors().size(), 12u);
  const at::Tensor upright = read_image_rgb(images() / "orient-1.png");
  for (const auto& info : golden.tensors()) {
    SCOPED_TRACE(info.name);
    const at::Tensor expected = golden.tensor(info);
    const at::Tensor actual = read_image_rgb(images() / info.name);
    ASSERT_EQ(actual.sizes(), expected.sizes());
    if (info.name.ends_with(".png")) {
      EXPECT_TRUE(at::equal(actual, expected));  // lossless: exact
    } else {
      // stb_image and libjpeg decode JPEG a few levels apart (see image_io.h); a wrong
      // orientation of this pattern is off by tens of levels.
      const auto diff = (actual.to(at::kInt) - expected.to(at::kInt)).abs().max().item<int>();
      EXPECT_LE(diff, 4);
    }
    if (info.name != "orient-1.png") {
      // Every orientation but 1 moves pixels, so the golden cannot pass by accident.
      EXPECT_FALSE(actual.sizes() == upright.sizes() && at::equal(actual, upright));
    }
  }
}

TEST(Exif, ReadsTheTagFromBothContainersAndByteOrders) {
  EXPECT_EQ(exif_orientation(file_bytes(images() / "orient-5.png")), 5);
  EXPECT_EQ(exif_orientation(file_bytes(images() / "orient-8.jpg")), 8);
  EXPECT_EQ(exif_orientation(file_bytes(images() / "orient-6-mm.jpg")), 6);
  EXPECT_EQ(exif_orientation(file_bytes(testing::data_dir() / "images" / "qwen2_5_vl" /
                                        "rgb_45x61.png")),
            1);  // no EXIF at all
}

// Damaged EXIF is ignored (Pillow raises struct.error on a truncated block; a picture should
// not become unreadable over its orientation tag).
TEST(Exif, DamagedBlocksAreIgnored) {
  const std::string good = file_bytes(images() / "orient-6.jpg");
  ASSERT_EQ(exif_orientation(good), 6);
  const std::size_t exif = good.find(std::string("Exif\0\0", 6));
  ASSERT_NE(exif, std::string::npos);
  // The file cut inside the EXIF segment, and the segment's TIFF magic broken.
  EXPECT_EQ(exif_orientation(good.substr(0, exif + 12)), 1);
  std::string bad_magic = good;
  bad_magic[exif + 8] = 7;  // 42 -> something else
  EXPECT_EQ(exif_orientation(bad_magic), 1);
  std::string huge_ifd = good;
  huge_ifd[exif + 10] = '\x7f';  // IFD0 offset far beyond the block
  EXPECT_EQ(exif_orientation(huge_ifd), 1);
  EXPECT_EQ(exif_orientation(""), 1);
  EXPECT_EQ(exif_orientation("\xff\xd8"), 1);
  EXPECT_EQ(exif_orientation(std::string("\x89PNG\r\n\x1a\n\0\0\0\xff", 12)), 1);
}

TEST(Exif, OrientationsAreTheEightSymmetriesOfTheRectangle) {
  const at::Tensor x = at::arange(2 * 3).view({2, 3, 1});
  // Orientation o and its inverse: 6 and 8 undo each other, the rest are involutions.
  const int inverse[9] = {0, 1, 2, 3, 4, 5, 8, 7, 6};
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE(o);
    const at::Tensor y = apply_exif_orientation(x, o);
    EXPECT_TRUE(y.is_contiguous());
    EXPECT_EQ(y.size(0), o >= 5 ? 3 : 2);
    EXPECT_TRUE(at::equal(apply_exif_orientation(y, inverse[o]), x));
  }
  EXPECT_TRUE(at::equal(apply_exif_orientation(x, 9), x));  // unknown values: unchanged
}

}  // namespace
}  // namespace duogen::io
