// The shapes demo model (models/shapes-demo, made by tools/demo_model/make_demo_model.py).
//
// 1. The engine renders a conversation into exactly the token ids the trainer used, and its
//    next token after the prompt and after a generated picture is transformers' on the same
//    ids (otherwise the model runs on inputs it never saw: a first trainer left out
//    mm_token_type_ids, so transformers trained on 1-D positions while duogen used M-RoPE's,
//    and every step-by-step answer stopped after its first picture).
// 2. Semantic tests: the model does what it was trained for, read back from pixels and text by
//    the shapes scorer (src/bench/shapes_score.h) on the benchmark suite's items.
// 3. Tests of the tests: one DuoGen mechanism broken at a time (the CFG branches swapped, the
//    condition frames dropped) must bring the score that depends on it under its threshold.
//    (A negative context ending at the assistant turn instead of after the last image is not
//    caught: this model's scores barely move with it; tools/demo_model/README.md.)
//
// Thresholds are measured rates minus a margin, written beside them below.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench/shapes_score.h"
#include "bench/suite.h"
#include "io/image_io.h"
#include "pipeline/duogen_image_model.h"
#include "pipeline/latent_sampler.h"
#include "pipeline/manifest.h"
#include "pipeline/qwen_conversation.h"
#include "pipeline/runner.h"
#include "sampling/flow/noise.h"
#include "testing/test_paths.h"

namespace duogen::pipeline {
namespace {

namespace fs = std::filesystem;
namespace flow = sampling::flow;
using nlohmann::json;

fs::path demo_dir() { return testing::source_dir() / "models" / "shapes-demo"; }
fs::path suite_file() { return testing::source_dir() / "benchmarks" / "shapes" / "shapes.jsonl"; }

enum class Mutation { kNone, kSwapCfgBranches, kDropConditionFrames };

// The image model under test, optionally broken. Swapping the CFG branches needs the sampling
// loop itself (the request can only shorten the negative context), so that path samples here
// with the library's own pieces; `SamplingPathEqualsTheEngine` checks it equals the engine's.
class MutatedImageModel final : public ImageModel {
 public:
  MutatedImageModel(DuoGenImageModel& inner, const ModelManifest& manifest, Mutation mutation,
                    bool own_sampling = false)
      : inner_(inner), manifest_(manifest), mutation_(mutation), own_sampling_(own_sampling) {}

  at::Tensor generate(const ImageRequest& original, const ProgressFn& progress,
                      std::vector<std::pair<std::string, double>>& timings) override {
    ImageRequest request = original;
    if (mutation_ == Mutation::kDropConditionFrames) request.condition_images.clear();
    if (mutation_ != Mutation::kSwapCfgBranches && !own_sampling_) {
      return inner_.generate(request, progress, timings);
    }
    return sample(request, mutation_ == Mutation::kSwapCfgBranches);
  }

 private:
  at::Tensor sample(const ImageRequest& request, bool swap) {
    std::vector<at::Tensor> conditions;
    for (const auto& image : request.condition_images) {
      conditions.push_back(inner_.vae()->encode(wan_vae::pixels_from_image(image)));
    }
    auto dit = inner_.dit();
    CfgContexts contexts =
        prepare_cfg_contexts(*dit, request.context, request.negative_length, false);
    if (swap) std::swap(contexts.positive, contexts.negative);
    LatentSamplerOptions o;
    o.sampler.schedule.steps = static_cast<int>(request.steps);
    o.sampler.schedule.shift = manifest_.shift;
    o.sampler.solver = flow::SolverKind::kUniPC;
    o.sampler.cfg.guidance = request.guidance;
    o.sampler.cfg.formula = flow::CfgFormula::kCosmos;
    if (manifest_.condition_timestep) {
      o.frames.mode = flow::ConditionFrameTimestep::kFixed;
      o.frames.fixed_value = *manifest_.condition_timestep;
    }
    o.network_time = manifest_.network_time;
    const std::int64_t f = inner_.vae()->config().scale_factor_spatial;
    const at::Tensor noise =
        flow::torch_noise({1, dit->config().latent_channels(), 1, request.height / f,
                           request.width / f},
                          request.seed);
    const at::Tensor x0 = sample_latent(*dit, contexts, conditions, noise, o);
    return wan_vae::image_from_pixels(inner_.vae()->decode(x0));
  }

  DuoGenImageModel& inner_;
  const ModelManifest& manifest_;
  Mutation mutation_;
  bool own_sampling_;
};

struct Demo {
  ModelManifest manifest = read_manifest(demo_dir());
  QwenConversation mllm{manifest, {}};
  DuoGenImageModel images{manifest, {}};
  bench::Suite suite = bench::read_suite(suite_file());
};

Demo& demo() {
  static Demo* d = new Demo();  // loaded once for every test here (a few MB, kept to exit)
  return *d;
}

struct SampleRun {
  JobResult result;
  std::vector<at::Tensor> images;
  std::string text;
};

SampleRun run_sample(const bench::Sample& sample, std::uint64_t seed,
                     Mutation mutation = Mutation::kNone, bool own_sampling = false) {
  Demo& d = demo();
  Job job;
  job.id = sample.id;
  job.messages = {bench::sample_message(sample)};
  job.options = sample.options;
  job.options.seed = seed;
  const auto lookup = [&](const std::string& t) { return d.mllm.token_id(t); };
  InterleavedSettings settings =
      resolve_settings(d.manifest, {}, job, lookup, d.mllm.stop_token_ids());
  settings.image_only = sample.task != bench::Task::kInterleaved;
  MutatedImageModel images(d.images, d.manifest, mutation, own_sampling);
  SampleRun run;
  run.result = run_interleaved(d.mllm, images, job, settings, {});
  for (const auto& s : run.result.segments) {
    if (s.kind == OutputSegment::Kind::kImage) run.images.push_back(s.image);
    if (s.kind == OutputSegment::Kind::kText) run.text += s.text;
  }
  return run;
}

bench::ShapeScene scene_of(const json& objects) {
  return bench::scene_from_json(objects, "metadata");
}

std::vector<const bench::Sample*> samples_of(const std::string& kind, std::size_t n) {
  std::vector<const bench::Sample*> out;
  for (const auto& s : demo().suite.samples) {
    if (s.category == kind && out.size() < n) out.push_back(&s);
  }
  return out;
}

// The fraction of `kind`'s first n items whose answer is right, by `right(sample, run)`.
template <typename Right>
double rate(const std::string& kind, std::size_t n, std::uint64_t seed, Right right,
            Mutation mutation = Mutation::kNone) {
  const auto samples = samples_of(kind, n);
  EXPECT_EQ(samples.size(), n) << "the suite has too few " << kind << " items";
  double ok = 0;
  for (const auto* s : samples) ok += right(*s, run_sample(*s, seed, mutation));
  const double r = ok / static_cast<double>(samples.size());
  std::printf("  %s: %.3f over %zu items (seed %llu)\n", kind.c_str(), r, samples.size(),
              static_cast<unsigned long long>(seed));
  return r;
}

// One attribute score (shapes_score.h's score_scene) of the first picture against the target.
auto picture(const char* metric) {
  return [metric](const bench::Sample& s, const SampleRun& run) {
    const bench::ShapeScene got =
        run.images.empty() ? bench::ShapeScene{} : bench::read_shapes(run.images.front());
    return bench::score_scene(got, scene_of(s.metadata.at("target"))).at(metric).get<double>();
  };
}

// The same of the answer's text (describe).
auto described(const char* metric) {
  return [metric](const bench::Sample& s, const SampleRun& run) {
    return bench::score_scene(bench::parse_shapes(run.text), scene_of(s.metadata.at("target")))
        .at(metric)
        .get<double>();
  };
}

// 1 when the answer has one picture per step and every picture keeps all objects of the one
// before it (the scorer's `consistency`, all-or-nothing per answer).
double steps_consistent(const bench::Sample& s, const SampleRun& run) {
  const std::size_t steps = s.metadata.at("steps").size();
  if (run.images.size() != steps) return 0;
  for (std::size_t k = 1; k < steps; ++k) {
    const auto before = bench::read_shapes(run.images[k - 1]);
    const auto after = bench::read_shapes(run.images[k]);
    if (before.empty()) return 0;
    for (const auto& o : before) {
      if (std::find(after.begin(), after.end(), o) == after.end()) return 0;
    }
  }
  return 1;
}

// ---- 1. the engine's token ids are the trainer's -------------------------------------------

std::int64_t next_token(const QwenConversation& mllm) {
  return mllm.next_logits().argmax(-1).item<std::int64_t>();
}

TEST(DemoModel, EngineRendersTheTokensTheModelWasTrainedOn) {
  const fs::path dir = testing::data_dir() / "shapes" / "render";
  std::ifstream in(dir / "render_fixture.json");
  ASSERT_TRUE(in) << dir;
  const json cases = json::parse(in);
  ASSERT_EQ(cases.size(), 5u);
  Demo& d = demo();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.at("job").at("id").get<std::string>());
    const Job job = parse_job(c.at("job").dump(), dir, "render_fixture.json", "render");
    d.mllm.start(job.messages, 1);
    const auto expected = c.at("prompt_ids").get<std::vector<std::int64_t>>();
    EXPECT_EQ(d.mllm.tokens(), expected);
    EXPECT_EQ(next_token(d.mllm), c.at("next_after_prompt").get<std::int64_t>());
    if (!c.contains("generated_image")) continue;
    // The assistant's text up to <BOV> as the trainer wrote it, then the picture as the engine
    // appends a generated one.
    const auto through = c.at("ids_through_image").get<std::vector<std::int64_t>>();
    const auto bov = c.at("bov").get<std::size_t>();
    for (std::size_t i = expected.size(); i <= bov; ++i) d.mllm.force_next(through[i]);
    d.mllm.append_image(io::read_image_rgb(dir / c.at("generated_image").get<std::string>()));
    EXPECT_EQ(d.mllm.tokens(), through);
    EXPECT_EQ(next_token(d.mllm), c.at("next_after_image").get<std::int64_t>())
        << "after the picture the engine continues otherwise than transformers";
  }
}

TEST(DemoModel, SamplingPathEqualsTheEngine) {
  // The tests of the tests sample through MutatedImageModel's own loop; unbroken, it must make
  // the engine's exact picture (else a fall in score could be the loop's fault).
  const auto* s = samples_of("edit", 1).front();
  const SampleRun engine = run_sample(*s, 3);
  const SampleRun own = run_sample(*s, 3, Mutation::kNone, /*own_sampling=*/true);
  ASSERT_EQ(engine.images.size(), 1u);
  ASSERT_EQ(own.images.size(), 1u);
  EXPECT_TRUE(at::equal(engine.images[0], own.images[0]));
}

// ---- 2. semantic tests and 3. the tests of the tests ----------------------------------------

std::vector<const bench::Sample*> compose_of_two_sizes(std::size_t n) {
  std::vector<const bench::Sample*> items;
  for (const auto* s : samples_of("compose", 1000)) {
    const auto a = io::read_image_rgb(s->images.at(0)), b = io::read_image_rgb(s->images.at(1));
    if (a.sizes() != b.sizes() && items.size() < n) items.push_back(s);
  }
  return items;
}

template <typename Right>
double rate_of(const std::vector<const bench::Sample*>& items, std::uint64_t seed, Right right,
               Mutation mutation = Mutation::kNone) {
  double ok = 0;
  for (const auto* s : items) ok += right(*s, run_sample(*s, seed, mutation));
  return ok / static_cast<double>(items.size());
}

// Thresholds: measured on these items at seeds 1, 2 and 3 (each item's seed is the test's), the
// lowest of the three minus a margin; the broken runs' highest rate is written beside them.
constexpr std::uint64_t kSeed = 1;
// Shape accuracy of t2i pictures: 0.917 / 0.967 / 0.850, margin 0.15; CFG swapped <= 0.017.
constexpr double kT2iShape = 0.70;
// Position accuracy of edited pictures: 0.833 / 0.542 / 0.700, margin 0.10; frames dropped
// <= 0.133.
constexpr double kEditPosition = 0.44;
// Colour accuracy of two-reference compositions: 0.667 / 0.889 / 0.750, margin 0.15; frames
// dropped 0.000.
constexpr double kComposeColour = 0.50;
// Step-by-step answers whose every picture keeps the last one's objects: 0.583 / 0.417 / 0.667,
// margin 0.11; frames dropped <= 0.167.
constexpr double kStepsConsistent = 0.30;
// Colour accuracy of descriptions (greedy, so the same at every seed): 0.408; chance is 0.25.
constexpr double kDescribeColour = 0.33;

TEST(DemoModelSemantic, TextToImageFollowsThePromptOnlyWithGuidanceTheRightWayRound) {
  EXPECT_GE(rate("t2i", 20, kSeed, picture("shape")), kT2iShape);
  // The CFG branches swapped: each step is pushed away from the prompt.
  EXPECT_LT(rate("t2i", 20, kSeed, picture("shape"), Mutation::kSwapCfgBranches), kT2iShape);
}

TEST(DemoModelSemantic, EditsKeepTheReferenceOnlyWithItsConditionFrame) {
  EXPECT_GE(rate("edit", 20, kSeed, picture("position")), kEditPosition);
  EXPECT_LT(rate("edit", 20, kSeed, picture("position"), Mutation::kDropConditionFrames),
            kEditPosition);
}

TEST(DemoModelSemantic, ComposesTwoReferencesOfDifferentSizes) {
  const auto items = compose_of_two_sizes(12);
  ASSERT_EQ(items.size(), 12u) << "the suite has too few compose items with two sizes";
  EXPECT_GE(rate_of(items, kSeed, picture("colour")), kComposeColour);
  EXPECT_LT(rate_of(items, kSeed, picture("colour"), Mutation::kDropConditionFrames),
            kComposeColour);
}

TEST(DemoModelSemantic, StepByStepPicturesBuildOnEachOther) {
  EXPECT_GE(rate("steps", 12, kSeed, steps_consistent), kStepsConsistent);
  EXPECT_LT(rate("steps", 12, kSeed, steps_consistent, Mutation::kDropConditionFrames),
            kStepsConsistent);
}

TEST(DemoModelSemantic, DescribesColoursBetterThanChance) {
  EXPECT_GE(rate("describe", 20, kSeed, described("colour")), kDescribeColour);
}

}  // namespace
}  // namespace duogen::pipeline
