// Suites: every supported format read into Samples and Jobs, the shipped sample suites, the
// GenEval prompt metadata, seeds derived from ids, and precise errors for bad items.
#include "bench/suite.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "bench/bench_fixtures.h"
#include "duogen/error.h"
#include "testing/test_paths.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using testing::write_file;

fs::path samples_dir() { return duogen::testing::source_dir() / "benchmarks"; }

template <typename E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Suite, CookingSampleSuiteWithImagesAndTextOnlyVariant) {
  const fs::path file = samples_dir() / "cooking" / "cooking_sample.jsonl";
  EXPECT_EQ(detect_suite_format(file), SuiteFormat::kCooking);
  const Suite suite = read_suite(file);
  ASSERT_EQ(suite.samples.size(), 12u);
  const Sample& s = suite.samples[0];
  EXPECT_EQ(s.id, "cook-001");
  ASSERT_EQ(s.images.size(), 1u);
  EXPECT_TRUE(fs::is_regular_file(s.images[0])) << s.images[0];
  EXPECT_NE(s.text.find(s.metadata["title"].get<std::string>()), std::string::npos);
  EXPECT_FALSE(s.category.empty());
  EXPECT_EQ(suite.samples[11].index, 11);

  SuiteReadOptions text_only;
  text_only.format = SuiteFormat::kCookingText;
  const Suite variant = read_suite(file, text_only);
  ASSERT_EQ(variant.samples.size(), 12u);
  EXPECT_TRUE(variant.samples[0].images.empty());
  EXPECT_EQ(variant.samples[0].suite, "cooking-text");
  EXPECT_NE(variant.samples[0].text.find(s.metadata["title"].get<std::string>()),
            std::string::npos);
  // The job: one user message, the image first, then the text.
  const auto jobs = sample_jobs(s, 0);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, "cook-001");
  ASSERT_EQ(jobs[0].messages.size(), 1u);
  ASSERT_EQ(jobs[0].messages[0].content.size(), 2u);
  EXPECT_EQ(jobs[0].messages[0].content[0].kind, pipeline::ContentPart::Kind::kImage);
  EXPECT_EQ(jobs[0].messages[0].content[1].text, s.text);
  EXPECT_EQ(jobs[0].options.seed, derive_seed("cook-001", 0, 0));
}

TEST(Suite, HowToImgEditGEditAndGenericSamples) {
  const Suite howto = read_suite(samples_dir() / "howto" / "howto_sample.jsonl");
  EXPECT_EQ(howto.format, SuiteFormat::kHowTo);
  ASSERT_EQ(howto.samples.size(), 12u);
  EXPECT_TRUE(howto.samples[0].images.empty());
  EXPECT_EQ(howto.samples[0].task, Task::kInterleaved);

  const Suite imgedit = read_suite(samples_dir() / "edit" / "imgedit_sample.json");
  EXPECT_EQ(imgedit.format, SuiteFormat::kImgEdit);
  ASSERT_EQ(imgedit.samples.size(), 12u);
  std::set<std::string> types;
  for (const auto& s : imgedit.samples) {
    EXPECT_EQ(s.task, Task::kEdit);
    EXPECT_EQ(s.images.size(), 1u);
    EXPECT_EQ(s.options.max_images, 1);
    EXPECT_EQ(s.metadata["key"], s.id);
    types.insert(s.category);
  }
  EXPECT_TRUE(types.count("add") && types.count("style")) << types.size();

  const Suite gedit = read_suite(samples_dir() / "edit" / "gedit_sample.jsonl");
  EXPECT_EQ(gedit.format, SuiteFormat::kGEdit);
  ASSERT_EQ(gedit.samples.size(), 12u);
  EXPECT_EQ(gedit.samples[0].id, "g0001");
  EXPECT_EQ(gedit.samples[0].category, "subject-add");
  EXPECT_EQ(gedit.samples[0].metadata["instruction_language"], "en");

  const Suite generic = read_suite(samples_dir() / "generic" / "generic_sample.jsonl");
  EXPECT_EQ(generic.format, SuiteFormat::kGeneric);
  ASSERT_EQ(generic.samples.size(), 3u);
  EXPECT_EQ(generic.samples[1].images.size(), 1u);
  EXPECT_EQ(generic.samples[1].metadata["data_id"], "demo-0001");
  const Sample& t2i = generic.samples[2];
  EXPECT_EQ(t2i.task, Task::kTextToImage);
  EXPECT_EQ(t2i.repeats, 2);
  const auto jobs = sample_jobs(t2i, 5);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].id, "t2i-1.r1");
  EXPECT_EQ(jobs[1].options.max_images, 1);
  EXPECT_EQ(jobs[1].options.seed, derive_seed("t2i-1", 5, 1));
}

TEST(Suite, GenEvalMetadataGivesFourJobsPerPromptWithDistinctSeeds) {
  const fs::path file = fs::path(DUOGEN_GENEVAL_DIR) / "evaluation_metadata.jsonl";
  EXPECT_EQ(detect_suite_format(file), SuiteFormat::kGenEval);
  const Suite suite = read_suite(file);
  ASSERT_EQ(suite.samples.size(), 553u);  // SOURCE.md: 553 prompts
  std::map<std::string, int> tags;
  std::set<std::uint64_t> seeds;
  std::size_t jobs = 0;
  for (const auto& s : suite.samples) {
    ++tags[s.category];
    EXPECT_EQ(s.task, Task::kTextToImage);
    EXPECT_EQ(s.id, fmt::format("{:05d}", s.index));
    EXPECT_EQ(s.text, s.metadata["prompt"]);
    for (const auto& job : sample_jobs(s, 0)) {
      ++jobs;
      ASSERT_TRUE(job.options.seed.has_value());
      EXPECT_LT(*job.options.seed, 1ULL << 31);
      seeds.insert(*job.options.seed);
    }
  }
  EXPECT_EQ(jobs, 553u * 4);
  EXPECT_EQ(seeds.size(), jobs);  // distinct across prompts and repeats
  // Tag counts from SOURCE.md.
  EXPECT_EQ(tags["single_object"], 80);
  EXPECT_EQ(tags["two_object"], 99);
  EXPECT_EQ(tags["counting"], 80);
  EXPECT_EQ(tags["colors"], 94);
  EXPECT_EQ(tags["position"], 100);
  EXPECT_EQ(tags["color_attr"], 100);
  SuiteReadOptions two;
  two.geneval_images_per_prompt = 2;
  EXPECT_EQ(read_suite(file, two).samples[0].repeats, 2);
}

TEST(Suite, SeedsDependOnTheIdOnly) {
  EXPECT_EQ(derive_seed("abc", 0, 0), derive_seed("abc", 0, 0));
  EXPECT_NE(derive_seed("abc", 0, 0), derive_seed("abd", 0, 0));
  EXPECT_NE(derive_seed("abc", 0, 0), derive_seed("abc", 0, 1));
  EXPECT_NE(derive_seed("abc", 0, 0), derive_seed("abc", 1, 0));
  // The same id at another position of another suite gets the same seed.
  const fs::path dir = duogen::testing::make_temp_dir("suite-seed");
  write_file(dir / "a.jsonl", R"({"id": "x", "text": "t"})" "\n" R"({"id": "y", "text": "t"})" "\n");
  write_file(dir / "b.jsonl", R"({"id": "y", "text": "t"})" "\n");
  const auto a = sample_jobs(read_suite(dir / "a.jsonl").samples[1], 0);
  const auto b = sample_jobs(read_suite(dir / "b.jsonl").samples[0], 0);
  EXPECT_EQ(a[0].options.seed, b[0].options.seed);
}

TEST(Suite, ErrorsNameTheFileLineAndField) {
  const fs::path dir = duogen::testing::make_temp_dir("suite-errors");
  write_file(dir / "missing.jsonl", R"({"id": "a", "text": "t", "images": ["nope.png"]})" "\n");
  auto msg = error_of<FormatError>([&] { read_suite(dir / "missing.jsonl"); });
  EXPECT_NE(msg.find("missing.jsonl:1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nope.png"), std::string::npos) << msg;

  write_file(dir / "dup.jsonl", R"({"id": "a", "text": "t"})" "\n" R"({"id": "a", "text": "u"})" "\n");
  msg = error_of<FormatError>([&] { read_suite(dir / "dup.jsonl"); });
  EXPECT_NE(msg.find("duplicate sample id 'a'"), std::string::npos) << msg;

  write_file(dir / "unknown.jsonl", R"({"id": "a", "text": "t", "colour": 1})" "\n");
  msg = error_of<FormatError>([&] { read_suite(dir / "unknown.jsonl"); });
  EXPECT_NE(msg.find("unknown field 'colour'"), std::string::npos) << msg;

  write_file(dir / "bad.jsonl", R"({"id": "a", "text": "t"})" "\n{not json\n");
  msg = error_of<FormatError>([&] { read_suite(dir / "bad.jsonl"); });
  EXPECT_NE(msg.find("bad.jsonl:2"), std::string::npos) << msg;

  write_file(dir / "howto.jsonl", R"({"id": "a", "question": 3})" "\n");
  msg = error_of<FormatError>([&] { read_suite(dir / "howto.jsonl"); });
  EXPECT_NE(msg.find("'question' must be a string"), std::string::npos) << msg;

  write_file(dir / "what.jsonl", R"({"foo": 1})" "\n");
  msg = error_of<FormatError>([&] { read_suite(dir / "what.jsonl"); });
  EXPECT_NE(msg.find("cannot tell the suite format"), std::string::npos) << msg;

  EXPECT_THROW(parse_suite_format("cookbook"), UsageError);
  // Keys that are not valid directory names are made into ids; collisions are errors.
  EXPECT_EQ(sanitize_id("a/b c", "x"), "a_b_c");
  EXPECT_EQ(sanitize_id(".hidden", "x"), "_hidden");
}

}  // namespace
}  // namespace duogen::bench
