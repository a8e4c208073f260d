// The shapes-world scorer: every ground-truth picture and text of tests/data/shapes read back
// exactly, robustness to blur and noise, the failures it must notice, and the metrics and table
// of a hand-made run with samples of every kind, right and wrong.
#include "bench/shapes_score.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>
#include <variant>

#include "bench/bench_fixtures.h"
#include "bench/run.h"
#include "cmd_bench.h"
#include "duogen/error.h"
#include "io/image_io.h"
#include "testing/expect_error.h"
#include "testing/test_paths.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace testing;

struct Truth {
  std::string image;
  ShapeScene scene;
  std::string text;
};

fs::path truth_dir() { return duogen::testing::data_dir() / "shapes"; }

std::vector<Truth> truths() {
  std::vector<Truth> out;
  for (const auto& line : lines_of(truth_dir() / "truth.jsonl")) {
    const json j = json::parse(line);
    out.push_back({j.at("image").get<std::string>(), scene_from_json(j.at("objects"), "truth"),
                   j.at("text").get<std::string>()});
  }
  return out;
}

at::Tensor picture(const Truth& t) { return io::read_image_rgb(truth_dir() / t.image); }

// A 3x3 box blur (edges averaged over the pixels inside) plus uniform noise of +-`noise` levels.
at::Tensor blur_and_noise(const at::Tensor& rgb, double noise, unsigned seed) {
  at::Tensor x = rgb.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
  x = at::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, false, /*count_include_pad=*/false);
  x = x.squeeze(0).permute({1, 2, 0}).contiguous();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-static_cast<float>(noise), static_cast<float>(noise));
  float* p = x.data_ptr<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) p[i] += u(rng);
  return x.round().clamp(0, 255).to(at::kByte);
}

ShapeObject obj(const char* colour, const char* shape, const char* slot) {
  return {shape, colour, slot};
}

// A picture of a scene as world.render draws it (pixel centres inside the shape are filled).
at::Tensor render(const ShapeScene& scene, std::int64_t w = 64, std::int64_t h = 64) {
  static const std::map<std::string, std::array<std::uint8_t, 3>> colours = {
      {"red", {220, 40, 40}},
      {"green", {40, 170, 60}},
      {"blue", {40, 80, 220}},
      {"yellow", {235, 190, 20}}};
  static const std::map<std::string, double> slot_x = {
      {"left", 0.2}, {"middle", 0.5}, {"right", 0.8}};
  at::Tensor img = at::full({h, w, 3}, 255, at::kByte);
  auto a = img.accessor<std::uint8_t, 3>();
  const double half = 0.24 * static_cast<double>(std::min(w, h)) / 2;
  for (const auto& o : scene) {
    const double cx = slot_x.at(o.slot) * w, cy = 0.5 * h;
    for (std::int64_t y = 0; y < h; ++y) {
      for (std::int64_t x = 0; x < w; ++x) {
        const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        const bool in = o.shape == "circle" ? dx * dx + dy * dy <= half * half
                        : o.shape == "square"
                            ? std::abs(dx) <= half && std::abs(dy) <= half
                            : dy >= -half && dy <= half && std::abs(dx) <= (dy + half) / 2;
        for (int c = 0; in && c < 3; ++c) a[y][x][c] = colours.at(o.colour)[c];
      }
    }
  }
  return img;
}

TEST(ShapesScore, ReadsEveryTruthPictureExactly) {
  const auto all = truths();
  ASSERT_EQ(all.size(), 61u);
  for (const auto& t : all) {
    EXPECT_EQ(describe_scene(read_shapes(picture(t))), describe_scene(t.scene)) << t.image;
  }
}

TEST(ShapesScore, ParsesEveryTruthTextExactly) {
  for (const auto& t : truths()) {
    EXPECT_TRUE(parse_shapes(t.text) == t.scene) << t.text;
    EXPECT_EQ(describe_scene(t.scene), t.text);  // the same sentences world.describe writes
  }
  // Text order, the first phrase per slot wins, the result is sorted by slot; case is ignored;
  // a phrase that is not the template ("circles", no slot) is not read.
  EXPECT_TRUE(parse_shapes("Step 2: Add a Blue square on the right, then a red circle on the left; "
                           "a green triangle on the right, two red circles on the left, "
                           "a yellow square.") ==
              (ShapeScene{obj("red", "circle", "left"), obj("blue", "square", "right")}));
  EXPECT_TRUE(parse_shapes("nothing").empty());
}

TEST(ShapesScore, ReadsBlurredNoisyPictures) {
  int single = 0;
  for (const auto& t : truths()) {
    const at::Tensor noisy = blur_and_noise(picture(t), 12, static_cast<unsigned>(single + 1));
    if (t.scene.size() == 1) {
      ++single;
      EXPECT_EQ(describe_scene(read_shapes(noisy)), describe_scene(t.scene)) << t.image;
    }
  }
  EXPECT_EQ(single, 36);  // every shape x colour x slot
  // The test renderer's pictures (pixel centres, no PIL rounding) read too, at every size.
  const ShapeScene scene = {obj("yellow", "triangle", "left"), obj("green", "circle", "middle"),
                            obj("blue", "square", "right")};
  for (const auto& [w, h] : {std::pair{64, 64}, {96, 64}, {64, 96}, {80, 80}, {48, 48}}) {
    EXPECT_TRUE(read_shapes(render(scene, w, h)) == scene) << w << "x" << h;
    EXPECT_TRUE(read_shapes(blur_and_noise(render(scene, w, h), 12, 7)) == scene) << w << "x" << h;
  }
}

TEST(ShapesScore, WrongPicturesGiveWrongScenes) {
  const ShapeScene scene = {obj("red", "circle", "left"), obj("blue", "square", "middle"),
                            obj("yellow", "triangle", "right")};
  const at::Tensor img = render(scene);
  ASSERT_TRUE(read_shapes(img) == scene);
  // The red circle painted green.
  const at::Tensor red = at::tensor({220, 40, 40}, at::kByte);
  const at::Tensor is_red = (img == red).all(2, /*keepdim=*/true).expand_as(img);
  const at::Tensor recoloured = at::where(is_red, at::tensor({40, 170, 60}, at::kByte), img);
  EXPECT_TRUE(read_shapes(recoloured) ==
              (ShapeScene{obj("green", "circle", "left"), scene[1], scene[2]}));
  // The middle object whited out.
  at::Tensor missing = img.clone();
  missing.narrow(1, 24, 16).fill_(255);
  EXPECT_TRUE(read_shapes(missing) == (ShapeScene{scene[0], scene[2]}));
  // A speck is not an object; a blank picture is empty.
  at::Tensor speck = at::full({64, 64, 3}, 255, at::kByte);
  speck.narrow(0, 30, 3).narrow(1, 30, 3).copy_(red.expand({3, 3, 3}));
  EXPECT_TRUE(read_shapes(speck).empty());
  EXPECT_THROW(read_shapes(img.to(at::kFloat)), InvalidArgument);
}

// ---- a hand-made run ------------------------------------------------------------------------

using Segment = std::variant<std::string, ShapeScene>;  // text, or a picture of a scene

json objects(const ShapeScene& scene) {
  json out = json::array();
  for (const auto& o : scene)
    out.push_back({{"shape", o.shape}, {"colour", o.colour}, {"slot", o.slot}});
  return out;
}

void add_sample(const fs::path& run,
                std::int64_t index,
                const std::string& id,
                json metadata,
                const std::vector<Segment>& output) {
  const fs::path dir = run / "samples" / id;
  fs::create_directories(dir);
  json segments = json::array();
  int images = 0;
  for (const auto& s : output) {
    if (const auto* text = std::get_if<std::string>(&s)) {
      segments.push_back({{"type", "text"}, {"text", *text}});
    } else {
      const std::string name = "image-" + std::to_string(++images) + ".png";
      io::write_png(dir / name, render(std::get<ShapeScene>(s)));
      segments.push_back({{"type", "image"}, {"path", name}});
    }
  }
  const json record = {{"id", id},
                       {"task", "interleaved"},
                       {"category", "shapes"},
                       {"metadata", std::move(metadata)},
                       {"input", json::object()},
                       {"outputs", {{{"segments", segments}}}}};
  write_file(dir / "record.json", record.dump(2));
  ManifestEntry entry;
  entry.id = id;
  entry.index = index;
  entry.ok = true;
  append_manifest_line(run / "manifest.jsonl", entry);
}

json meta(const std::string& kind, const ShapeScene& target) {
  return {{"world", "shapes"}, {"kind", kind}, {"target", objects(target)}};
}

const ShapeObject kA = obj("red", "circle", "left");
const ShapeObject kB = obj("blue", "square", "middle");
const ShapeObject kC = obj("yellow", "triangle", "right");

fs::path make_run() {
  const fs::path run = duogen::testing::make_temp_dir("shapes-run");
  add_sample(run, 0, "t2i-right", meta("t2i", {kA, kB}), {ShapeScene{kA, kB}});
  // Middle object in the wrong colour, plus an extra one.
  add_sample(run, 1, "t2i-wrong", meta("t2i", {kA, kB}),
             {ShapeScene{kA, obj("green", "square", "middle"), kC}});
  // The left object in the wrong shape.
  add_sample(run, 2, "edit", meta("edit", {kA, kC}),
             {std::string("Done."), ShapeScene{obj("red", "triangle", "left"), kC}});
  add_sample(run, 3, "compose", meta("compose", {kB}), {std::string("No picture.")});
  // Right layout; step 3 loses the square and its text names the wrong slot.
  json steps = meta("steps", {kA, kB, kC});
  steps["steps"] = {objects({kB}), objects({kB, kC}), objects({kA, kB, kC})};
  add_sample(run, 4, "steps-1", steps,
             {std::string("Step 1: Draw a blue square in the middle."), ShapeScene{kB},
              std::string("Step 2: Add a yellow triangle on the right."), ShapeScene{kB, kC},
              std::string("Step 3: Add a red circle on the right."), ShapeScene{kA, kC}});
  // Right pictures without any text.
  json steps2 = meta("steps", {kA, kB});
  steps2["steps"] = {objects({kA}), objects({kA, kB})};
  add_sample(run, 5, "steps-2", steps2, {ShapeScene{kA}, ShapeScene{kA, kB}});
  // The middle object's shape is wrong, the right one is missing.
  add_sample(run, 6, "describe", meta("describe", {kA, kB, kC}),
             {std::string("There is a red circle on the left "),
              std::string("and a blue circle in the middle.")});
  return run;
}

TEST(ShapesScore, RunMetricsAndTable) {
  const fs::path run = make_run();
  const auto result = score_shapes_run(run);
  ASSERT_EQ(result.scores.size(), 7u);
  std::map<std::string, json> by_id;
  for (const auto& s : result.scores) by_id[s.at("id").get<std::string>()] = s;
  const auto expect = [&](const std::string& id, const std::map<std::string, double>& metrics) {
    const json& s = by_id.at(id);
    EXPECT_EQ(s.size(), metrics.size() + 2) << s.dump();  // id, kind and just these
    for (const auto& [m, v] : metrics) EXPECT_DOUBLE_EQ(s.at(m).get<double>(), v) << id << " " << m;
  };
  const auto image_metrics = [](double exact, double count, double position, double colour,
                                double shape) {
    return std::map<std::string, double>{{"exact", exact},
                                         {"count", count},
                                         {"position", position},
                                         {"colour", colour},
                                         {"shape", shape}};
  };
  auto with_image = [&](std::map<std::string, double> m, double image) {
    m["image"] = image;
    return m;
  };
  expect("t2i-right", with_image(image_metrics(1, 1, 1, 1, 1), 1));
  expect("t2i-wrong", with_image(image_metrics(0, 0, 1, 1.0 / 2, 1), 1));
  expect("edit", with_image(image_metrics(0, 1, 1, 1, 1.0 / 2), 1));
  expect("compose", with_image(image_metrics(0, 0, 0, 0, 0), 0));
  // steps-1: images 1 and 2 right of 3; image 2 keeps image 1's objects, image 3 does not;
  // texts 1 and 2 name the added object.
  expect("steps-1", {{"bov", 1}, {"exact", 2.0 / 3}, {"consistency", 1.0 / 2}, {"text", 2.0 / 3}});
  expect("steps-2", {{"bov", 0}, {"exact", 1}, {"consistency", 1}, {"text", 0}});
  expect("describe", image_metrics(0, 0, 2.0 / 3, 2.0 / 3, 1.0 / 3));

  const auto n = [](double v) { return format_number(v); };
  EXPECT_EQ(result.table.columns,
            (std::vector<std::string>{"kind", "samples", "exact", "count", "position", "colour",
                                      "shape", "consistency", "bov", "text"}));
  ASSERT_EQ(result.table.rows.size(), 6u);
  const auto& rows = result.table.rows;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"t2i", "2", n(1.0 / 2), n(1.0 / 2), n(1),
                                               n((1 + 1.0 / 2) / 2), n(1), "-", "-", "-"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"edit", "1", n(0), n(1), n(1), n(1), n(1.0 / 2), "-",
                                               "-", "-"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"compose", "1", n(0), n(0), n(0), n(0), n(0), "-",
                                               "-", "-"}));
  const double steps_exact = (2.0 / 3 + 1) / 2;
  EXPECT_EQ(rows[3],
            (std::vector<std::string>{"steps", "2", n(steps_exact), "-", "-", "-", "-",
                                      n((1.0 / 2 + 1) / 2), n(1.0 / 2), n((2.0 / 3 + 0) / 2)}));
  EXPECT_EQ(rows[4], (std::vector<std::string>{"describe", "1", n(0), n(0), n(2.0 / 3), n(2.0 / 3),
                                               n(1.0 / 3), "-", "-", "-"}));
  // overall: the mean of the five rows' exact.
  EXPECT_EQ(rows[5], (std::vector<std::string>{"overall", "7", n((1.0 / 2 + steps_exact) / 5), "-",
                                               "-", "-", "-", "-", "-", "-"}));
}

TEST(ShapesScore, RecordsFromOtherSuitesAreFormatErrors) {
  const fs::path run = duogen::testing::make_temp_dir("shapes-other");
  add_sample(run, 0, "fine", meta("t2i", {kA}), {ShapeScene{kA}});
  add_sample(run, 1, "cooking-7", {{"suite", "cooking"}}, {std::string("Boil water.")});
  const std::string message =
      duogen::testing::message_of<FormatError>([&] { score_shapes_run(run); });
  EXPECT_NE(message.find("cooking-7"), std::string::npos) << message;
  EXPECT_NE(message.find("world"), std::string::npos) << message;
  // Malformed target objects name the sample and the field.
  json bad = meta("t2i", {kA});
  bad["target"][0]["colour"] = "purple";
  const json record = {{"id", "t2i-9"}, {"metadata", bad}, {"outputs", json::array()}};
  const std::string m2 =
      duogen::testing::message_of<FormatError>([&] { score_shapes_record(run, record); });
  EXPECT_NE(m2.find("sample 't2i-9': metadata.target[0].colour"), std::string::npos) << m2;
}

TEST(ShapesScore, BenchShapesCommandWritesScoresAndTable) {
  const fs::path run = make_run();
  const auto parse = [](std::vector<std::string> args) {
    CLI::App app;
    cli::add_bench_command(
        app,
        [](const pipeline::ModelManifest&, const DevicePlacement&) { return cli::LoadedModels{}; },
        [](const char*) -> const char* { return nullptr; });
    std::reverse(args.begin(), args.end());
    app.parse(args);
  };
  parse({"bench", "shapes", "--run", run.string()});
  const auto expected = score_shapes_run(run);
  const auto lines = lines_of(run / "shapes" / "scores.jsonl");
  ASSERT_EQ(lines.size(), expected.scores.size());
  for (std::size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(json::parse(lines[i]), expected.scores[i]);
  EXPECT_EQ(read_file(run / "shapes" / "table.md"), to_markdown(expected.table));
  EXPECT_EQ(read_file(run / "shapes" / "table.csv"), to_csv(expected.table));
  parse({"bench", "shapes", "--run", run.string(), "--out", (run / "out" / "t").string()});
  EXPECT_EQ(read_file(run / "out" / "t.md"), to_markdown(expected.table));
}

}  // namespace
}  // namespace duogen::bench
