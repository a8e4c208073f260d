#include "io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "duogen/error.h"
#include "testing/fixtures.h"
#include "testing/test_paths.h"

namespace duogen::io {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("atomic"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, CommitReplacesTheTargetWhole) {
  const fs::path target = dir_ / "out.txt";
  write_file_atomically(target, "first version");
  write_file_atomically(target, "second");
  EXPECT_EQ(testing::read_bytes(target), "second");
  EXPECT_EQ(entries(), 1u);  // no temporary left behind
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_IRUSR, 0u);
  EXPECT_NE(st.st_mode & S_IWUSR, 0u);
}

TEST_F(AtomicFileTest, AnAbandonedWriteLeavesTheOldFileAndNoTemporary) {
  const fs::path target = dir_ / "out.txt";
  write_file_atomically(target, "kept");
  {
    AtomicFileWriter writer(target);
    writer.write("half of a new vers");
    EXPECT_EQ(entries(), 2u);  // target + temporary while writing
  }  // destroyed without commit, as when an exception unwinds
  EXPECT_EQ(testing::read_bytes(target), "kept");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFileTest, TwoWritersOfOneTargetDoNotShareATemporary) {
  const fs::path target = dir_ / "out.txt";
  AtomicFileWriter a(target);
  AtomicFileWriter b(target);
  a.write("from a");
  b.write("from b");
  a.commit();
  b.commit();
  EXPECT_EQ(testing::read_bytes(target), "from b");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFileTest, AMissingDirectoryIsAnIoErrorNamingTheTarget) {
  const fs::path target = dir_ / "missing" / "out.txt";
  try {
    write_file_atomically(target, "x");
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace duogen::io
