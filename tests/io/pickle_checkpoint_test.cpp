// PyTorch pickle checkpoints given where safetensors are expected: the error says what the file
// is and which converter to run (instead of "header length 578712552184433488 exceeds ..."),
// whatever the extension, for a file and for a directory holding only such files. The files are
// tiny torch.save outputs from tools/reference/make_pickle_checkpoints.py.
#include "io/pickle_checkpoint.h"

#include <gtest/gtest.h>

#include "duogen/error.h"
#include "io/checkpoint.h"
#include "io/pipeline_snapshot.h"
#include "io/safetensors.h"
#include "models/cosmos_dit/dit.h"
#include "pipeline/manifest.h"
#include "testing/expect_error.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

namespace fs = std::filesystem;

fs::path pickles() { return testing::data_dir() / "pickle"; }

void expect_mentions(const std::string& msg, const std::vector<std::string>& fragments) {
  for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << f << "\n" << msg;
  EXPECT_EQ(msg.find("header length"), std::string::npos) << msg;
}

struct Case {
  const char* file;
  std::vector<std::string> fragments;
};

std::vector<Case> cases() {
  return {
      {"cosmos_dit.pt",
       {"torch.save zip archive", "tools/convert/cosmos_dit_pt_to_safetensors.py"}},
      {"wan_vae.pth", {"torch.save zip archive", "tools/convert/wan_vae_pth_to_safetensors.py"}},
      {"transformers/pytorch_model.bin", {"transformers", "safe_serialization=True"}},
      {"legacy.pt", {"legacy torch.save", "tools/convert/cosmos_dit_pt_to_safetensors.py"}},
      // Nothing recognisable inside: every converter is named.
      {"unknown.ckpt",
       {"cosmos_dit_pt_to_safetensors.py", "wan_vae_pth_to_safetensors.py", "save_pretrained"}},
  };
}

TEST(PickleCheckpoint, OpeningOneAsSafetensorsSaysWhatItIsAndHowToConvert) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.file);
    const fs::path path = pickles() / c.file;
    auto fragments = c.fragments;
    fragments.push_back(path.string());
    fragments.push_back("not a safetensors file");
    expect_mentions(testing::message_of<FormatError>([&] { SafetensorsFile::open(path); }),
                    fragments);
    expect_mentions(testing::message_of<FormatError>([&] { Checkpoint::open(path); }), fragments);
  }
}

TEST(PickleCheckpoint, DetectedByContentNotExtension) {
  const auto dir = testing::make_temp_dir("pickle");
  fs::copy_file(pickles() / "cosmos_dit.pt", dir / "model.safetensors");
  expect_mentions(testing::message_of<FormatError>([&] { Checkpoint::open(dir); }),
                  {"model.safetensors", "torch.save zip archive", "cosmos_dit_pt_to_safetensors"});
  fs::remove_all(dir);
}

TEST(PickleCheckpoint, DirectoryHoldingOnlyPicklesNamesTheFileAndConverter) {
  expect_mentions(
      testing::message_of<FormatError>([&] { Checkpoint::open(pickles() / "transformers"); }),
      {"pytorch_model.bin", "only PyTorch pickle checkpoints", "save_pretrained"});

  // The DiT loader opening a directory of an original Cosmos release.
  const auto dir = testing::make_temp_dir("pickle-dit");
  fs::copy_file(pickles() / "cosmos_dit.pt", dir / "model_ema_bf16.pt");
  expect_mentions(testing::message_of<FormatError>([&] { cosmos_dit::CosmosDiT::load(dir, {}); }),
                  {"model_ema_bf16.pt", "cosmos_dit_pt_to_safetensors.py"});
  fs::remove_all(dir);
}

// A real safetensors file whose header length is 640 starts with the bytes 0x80 0x02, like a
// protocol-2 pickle: it must still open.
TEST(PickleCheckpoint, ValidSafetensorsStartingWithPickleBytesStillOpens) {
  std::string header = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  header.append(640 - header.size(), ' ');
  const std::string bytes = testing::safetensors_bytes(header, std::string(4, '\0'));
  ASSERT_EQ(static_cast<unsigned char>(bytes[0]), 0x80);
  ASSERT_EQ(bytes[1], 0x02);
  const auto dir = testing::make_temp_dir("pickle-like");
  testing::write_bytes(dir / "x.safetensors", bytes);
  EXPECT_NO_THROW(SafetensorsFile::open(dir / "x.safetensors"));
  fs::remove_all(dir);
}

TEST(PickleCheckpoint, MagicBytes) {
  const auto is = [](std::string_view s) {
    return looks_like_pickle_checkpoint(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  EXPECT_TRUE(is("PK\x03\x04"));
  EXPECT_TRUE(is("\x80\x02\x8a\x0a"));
  EXPECT_TRUE(is("\x80\x05"));
  EXPECT_FALSE(is("\x80\x06"));
  EXPECT_FALSE(is("PK\x05\x06"));  // an empty zip, not a torch.save archive
  EXPECT_FALSE(is("{\"a\""));
  EXPECT_FALSE(is("P"));
}

// The original file given as the model itself (`duogen video --model x.pt`, `t2i --model x.pt`):
// the same error, not "no model_index.json" or "not valid JSON".
TEST(PickleCheckpoint, GivenAsTheModelItNamesTheConverter) {
  const fs::path pt = pickles() / "cosmos_dit.pt";
  expect_mentions(testing::message_of<FormatError>([&] { read_pipeline_snapshot(pt); }),
                  {pt.string(), "cosmos_dit_pt_to_safetensors.py", "assemble_cosmos_snapshot.py"});
  expect_mentions(testing::message_of<FormatError>([&] { pipeline::read_manifest(pt); }),
                  {pt.string(), "cosmos_dit_pt_to_safetensors.py"});
  const fs::path vae = pickles() / "wan_vae.pth";
  expect_mentions(testing::message_of<FormatError>([&] { read_pipeline_snapshot(vae); }),
                  {vae.string(), "wan_vae_pth_to_safetensors.py"});
}

}  // namespace
}  // namespace duogen::io
