#include "bench/shapes_score.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <regex>

#include <fmt/format.h>

#include "bench/run.h"
#include "core/check.h"
#include "io/image_io.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The world's constants. They mirror tools/demo_model/world.py: change both together.
constexpr std::array<std::string_view, 3> kShapes = {"circle", "square", "triangle"};
struct PaletteColour {
  std::string_view name;
  std::array<double, 3> rgb;
};
constexpr std::array<PaletteColour, 4> kColours = {{{"red", {220, 40, 40}},
                                                    {"green", {40, 170, 60}},
                                                    {"blue", {40, 80, 220}},
                                                    {"yellow", {235, 190, 20}}}};
constexpr std::array<std::string_view, 3> kSlots = {"left", "middle", "right"};
constexpr std::array<double, 3> kSlotX = {0.2, 0.5, 0.8};  // slot centres / width
constexpr double kObjectSize = 0.24;                       // bbox side / min(width, height)
constexpr double kBackground = 255;                        // white

// The reader's thresholds (tuned on tests/data/shapes, blurred and noisy). A blurred edge is a
// blend of the colour with white, so a pixel counts as colour c when it lies near the line
// white -> c (kMaxOffLine RGB levels) and at least half-way along it: the mask's edge then stays
// where the sharp edge was, and the shape measures below survive blur.
constexpr double kMaxOffLine = 60;
constexpr double kMinBlend = 0.5;
constexpr double kMinAreaFraction = 0.25;    // of side^2: half a triangle; specks are no object
constexpr double kTriangleTopBottom = 0.65;  // top-third / bottom-third width: ~0.25 for a
                                             // triangle, ~1 for circles and squares
constexpr double kSquareCorners = 0.45;      // bbox corner boxes filled: ~1 square, <= 1/3 circle

std::size_t slot_index(std::string_view slot) {
  return static_cast<std::size_t>(std::find(kSlots.begin(), kSlots.end(), slot) - kSlots.begin());
}

void sort_scene(ShapeScene& scene) {
  std::stable_sort(scene.begin(), scene.end(), [](const auto& a, const auto& b) {
    return slot_index(a.slot) < slot_index(b.slot);
  });
}

// The palette index of a pixel, or -1 (background, or a colour not in the palette).
int classify_pixel(const std::uint8_t* p) {
  int best = -1;
  double best_off = kMaxOffLine;
  for (std::size_t c = 0; c < kColours.size(); ++c) {
    std::array<double, 3> v{}, q{};
    double vv = 0, qv = 0;
    for (int k = 0; k < 3; ++k) {
      v[k] = kColours[c].rgb[k] - kBackground;
      q[k] = p[k] - kBackground;
      vv += v[k] * v[k];
      qv += q[k] * v[k];
    }
    const double t = qv / vv;  // how far along white -> colour
    if (t < kMinBlend) continue;
    double off = 0;
    for (int k = 0; k < 3; ++k) off += (q[k] - t * v[k]) * (q[k] - t * v[k]);
    off = std::sqrt(off);
    if (off < best_off) {
      best_off = off;
      best = static_cast<int>(c);
    }
  }
  return best;
}

struct Patch {
  int colour = -1;
  std::vector<std::pair<std::int64_t, std::int64_t>> pixels;  // (y, x) in the region
};

// The largest 8-connected patch of one colour in `labels` [h, w]: specks of noise and stray
// marks elsewhere in the slot do not move the bounding box.
Patch largest_patch(const std::vector<int>& labels, std::int64_t h, std::int64_t w) {
  Patch best;
  std::vector<bool> seen(labels.size(), false);
  for (std::int64_t start = 0; start < h * w; ++start) {
    if (labels[start] < 0 || seen[start]) continue;
    Patch patch{labels[start], {}};
    std::vector<std::int64_t> stack = {start};
    seen[start] = true;
    while (!stack.empty()) {
      const std::int64_t i = stack.back();
      stack.pop_back();
      const std::int64_t y = i / w, x = i % w;
      patch.pixels.emplace_back(y, x);
      for (std::int64_t dy = -1; dy <= 1; ++dy) {
        for (std::int64_t dx = -1; dx <= 1; ++dx) {
          const std::int64_t ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
          const std::int64_t j = ny * w + nx;
          if (seen[j] || labels[j] != patch.colour) continue;
          seen[j] = true;
          stack.push_back(j);
        }
      }
    }
    if (patch.pixels.size() > best.pixels.size()) best = std::move(patch);
  }
  return best;
}

std::string_view classify_shape(const Patch& patch) {
  std::int64_t y0 = INT64_MAX, y1 = -1, x0 = INT64_MAX, x1 = -1;
  for (const auto& [y, x] : patch.pixels) {
    y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, x), x1 = std::max(x1, x);
  }
  const std::int64_t h = y1 - y0 + 1, w = x1 - x0 + 1;
  const std::int64_t band = std::max<std::int64_t>(1, h / 3);
  const std::int64_t cw = std::max<std::int64_t>(1, w / 4), ch = std::max<std::int64_t>(1, h / 4);
  double top = 0, bottom = 0, corners = 0;
  for (const auto& [y, x] : patch.pixels) {
    top += y - y0 < band ? 1 : 0;
    bottom += y1 - y < band ? 1 : 0;
    const bool cx = x - x0 < cw || x1 - x < cw, cy = y - y0 < ch || y1 - y < ch;
    corners += cx && cy ? 1 : 0;
  }
  if (top < kTriangleTopBottom * bottom) return "triangle";
  return corners > kSquareCorners * static_cast<double>(4 * cw * ch) ? "square" : "circle";
}

// ---- scoring ----------------------------------------------------------------------------------

const ShapeObject* in_slot(const ShapeScene& scene, const std::string& slot) {
  for (const auto& o : scene) {
    if (o.slot == slot) return &o;
  }
  return nullptr;
}

// score_scene (shapes_score.h) into an existing score line.
void add_scene_metrics(json& score, const ShapeScene& got, const ShapeScene& want) {
  double position = 0, colour = 0, shape = 0;
  for (const auto& o : want) {
    const ShapeObject* g = in_slot(got, o.slot);
    position += g ? 1 : 0;
    colour += g && g->colour == o.colour ? 1 : 0;
    shape += g && g->shape == o.shape ? 1 : 0;
  }
  const double n = want.empty() ? 1.0 : static_cast<double>(want.size());
  score["exact"] = got == want ? 1.0 : 0.0;
  score["count"] = got.size() == want.size() ? 1.0 : 0.0;
  score["position"] = want.empty() ? 1.0 : position / n;
  score["colour"] = want.empty() ? 1.0 : colour / n;
  score["shape"] = want.empty() ? 1.0 : shape / n;
}

struct Output {
  std::vector<json> segments;
  std::vector<fs::path> images;    // absolute
  std::vector<std::string> texts;  // texts[k]: the text before image k (after image k-1)
  std::string all_text;
};

Output first_output(const fs::path& run_dir, const json& record, const std::string& id) {
  Output out;
  const auto outputs = record.value("outputs", json::array());
  DUOGEN_CHECK(outputs.is_array(), FormatError, "sample '{}': 'outputs' is not a list", id);
  if (outputs.empty()) return out;
  const auto& segments = outputs[0].value("segments", json::array());
  DUOGEN_CHECK(segments.is_array(), FormatError, "sample '{}': 'outputs[0].segments' is not a list",
               id);
  out.texts.emplace_back();
  for (const auto& seg : segments) {
    out.segments.push_back(seg);
    const std::string type = seg.value("type", "");
    if (type == "text") {
      const std::string text = seg.value("text", "");
      out.texts.back() += text;
      out.all_text += text;
    } else if (type == "image") {
      DUOGEN_CHECK(seg.contains("path") && seg["path"].is_string(), FormatError,
                   "sample '{}': an image segment of outputs[0] has no 'path'", id);
      out.images.push_back(run_dir / "samples" / id / seg["path"].get<std::string>());
      out.texts.emplace_back();
    }
  }
  return out;
}

ShapeScene scene_of(const json& meta, const char* key, const std::string& id) {
  DUOGEN_CHECK(meta.contains(key), FormatError, "sample '{}': metadata.{} is missing", id, key);
  return scene_from_json(meta[key], fmt::format("sample '{}': metadata.{}", id, key));
}

bool keeps(const ShapeScene& later, const ShapeScene& earlier) {
  return std::all_of(earlier.begin(), earlier.end(), [&](const ShapeObject& o) {
    return std::find(later.begin(), later.end(), o) != later.end();
  });
}

void score_steps(json& score, const json& meta, const Output& out, const std::string& id) {
  DUOGEN_CHECK(meta.contains("steps") && meta["steps"].is_array() && !meta["steps"].empty(),
               FormatError, "sample '{}': metadata.steps must be a non-empty list", id);
  std::vector<ShapeScene> steps;
  for (std::size_t k = 0; k < meta["steps"].size(); ++k) {
    steps.push_back(
        scene_from_json(meta["steps"][k], fmt::format("sample '{}': metadata.steps[{}]", id, k)));
  }
  const std::size_t n = steps.size();
  std::vector<ShapeScene> read;
  for (std::size_t k = 0; k < std::min(n, out.images.size()); ++k) {
    read.push_back(read_shapes(io::read_image_rgb(out.images[k])));
  }
  // bov: the answer's layout is exactly "Step k" text, image, for every step.
  bool bov = out.segments.size() == 2 * n;
  for (std::size_t k = 0; bov && k < n; ++k) {
    const auto& text = out.segments[2 * k];
    bov = text.value("type", "") == "text" &&
          out.segments[2 * k + 1].value("type", "") == "image" &&
          text.value("text", "").find(fmt::format("Step {}", k + 1)) != std::string::npos;
  }
  double exact = 0, consistent = 0, text = 0;
  for (std::size_t k = 0; k < n; ++k) {
    exact += k < read.size() && read[k] == steps[k] ? 1 : 0;
    if (k >= 1 && k < read.size()) {
      // Consistency: image k keeps every object read from image k-1.
      consistent += keeps(read[k], read[k - 1]) ? 1 : 0;
    }
    // Step k's text names just the object it adds: steps[k] minus steps[k-1].
    ShapeScene added;
    for (const auto& o : steps[k]) {
      if (k == 0 || std::find(steps[k - 1].begin(), steps[k - 1].end(), o) == steps[k - 1].end()) {
        added.push_back(o);
      }
    }
    text += k < out.texts.size() && parse_shapes(out.texts[k]) == added ? 1 : 0;
  }
  const double dn = static_cast<double>(n);
  score["bov"] = bov ? 1.0 : 0.0;
  score["exact"] = exact / dn;
  score["consistency"] = n >= 2 ? json(consistent / (dn - 1)) : json(nullptr);
  score["text"] = text / dn;
}

}  // namespace

json score_scene(const ShapeScene& got, const ShapeScene& want) {
  json score = json::object();
  add_scene_metrics(score, got, want);
  return score;
}

ShapeScene read_shapes(const at::Tensor& rgb) {
  DUOGEN_CHECK(
      rgb.defined() && rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == at::kByte,
      InvalidArgument, "read_shapes: expected a uint8 [H, W, 3] picture");
  const at::Tensor img = rgb.to(at::kCPU).contiguous();
  const std::int64_t h = img.size(0), w = img.size(1);
  const std::uint8_t* data = img.data_ptr<std::uint8_t>();
  const double side = kObjectSize * static_cast<double>(std::min(h, w));
  ShapeScene scene;
  for (std::size_t s = 0; s < kSlots.size(); ++s) {
    // Each slot owns the columns whose centre is nearer its x than any other slot's.
    const double lo = s == 0 ? 0.0 : (kSlotX[s - 1] + kSlotX[s]) / 2;
    const double hi = s + 1 == kSlots.size() ? 1.0 : (kSlotX[s] + kSlotX[s + 1]) / 2;
    std::int64_t x_begin = w, x_end = 0;
    for (std::int64_t x = 0; x < w; ++x) {
      const double c = (static_cast<double>(x) + 0.5) / static_cast<double>(w);
      if (c >= lo && c < hi) {
        x_begin = std::min(x_begin, x);
        x_end = x + 1;
      }
    }
    if (x_end <= x_begin) continue;
    const std::int64_t rw = x_end - x_begin;
    std::vector<int> labels(static_cast<std::size_t>(h * rw));
    for (std::int64_t y = 0; y < h; ++y) {
      for (std::int64_t x = 0; x < rw; ++x) {
        labels[y * rw + x] = classify_pixel(data + (y * w + x_begin + x) * 3);
      }
    }
    const Patch patch = largest_patch(labels, h, rw);
    if (static_cast<double>(patch.pixels.size()) < kMinAreaFraction * side * side) continue;
    scene.push_back({std::string(classify_shape(patch)), std::string(kColours[patch.colour].name),
                     std::string(kSlots[s])});
  }
  return scene;
}

ShapeScene parse_shapes(std::string_view text) {
  const auto alternatives = [](const auto& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : "|") + std::string(n);
    return out;
  };
  std::vector<std::string_view> colours;
  for (const auto& c : kColours) colours.push_back(c.name);
  const std::regex phrase(
      fmt::format(R"(\b({})\s+({})\s+(on\s+the\s+left|in\s+the\s+middle|on\s+the\s+right)\b)",
                  alternatives(colours), alternatives(kShapes)));
  std::string lower(text);  // so the captured names are the lowercase ones
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  ShapeScene scene;
  for (auto it = std::sregex_iterator(lower.begin(), lower.end(), phrase);
       it != std::sregex_iterator(); ++it) {
    const std::string where = (*it)[3].str();
    std::string slot;
    for (const auto& s : kSlots) {
      if (where.find(s) != std::string::npos) slot = s;
    }
    if (in_slot(scene, slot)) continue;  // the first phrase per slot wins
    scene.push_back({(*it)[2].str(), (*it)[1].str(), slot});
  }
  sort_scene(scene);
  return scene;
}

std::string describe_scene(const ShapeScene& scene) {
  if (scene.empty()) return "nothing";
  std::vector<std::string> parts;
  for (const auto& o : scene) {
    const std::string where = o.slot == "middle" ? "in the middle" : "on the " + o.slot;
    parts.push_back(fmt::format("a {} {} {}", o.colour, o.shape, where));
  }
  std::string out = parts[0];
  for (std::size_t i = 1; i < parts.size(); ++i) {
    out += (i + 1 == parts.size() ? " and " : ", ") + parts[i];
  }
  return out;
}

ShapeScene scene_from_json(const json& objects, const std::string& where) {
  DUOGEN_CHECK(objects.is_array(), FormatError, "{}: expected a list of objects", where);
  ShapeScene scene;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto& o = objects[i];
    const auto field = [&](const char* key, const auto& allowed) {
      const bool ok =
          o.is_object() && o.contains(key) && o[key].is_string() &&
          std::find(allowed.begin(), allowed.end(), o[key].get<std::string>()) != allowed.end();
      DUOGEN_CHECK(ok, FormatError, "{}[{}].{}: expected one of {}", where, i, key,
                   fmt::join(allowed, ", "));
      return o[key].get<std::string>();
    };
    std::vector<std::string_view> colours;
    for (const auto& c : kColours) colours.push_back(c.name);
    scene.push_back({field("shape", kShapes), field("colour", colours), field("slot", kSlots)});
    DUOGEN_CHECK(std::count_if(scene.begin(), scene.end(),
                               [&](const auto& s) { return s.slot == scene.back().slot; }) == 1,
                 FormatError, "{}[{}]: a second object on the {}", where, i, scene.back().slot);
  }
  sort_scene(scene);
  return scene;
}

json score_shapes_record(const fs::path& run_dir, const json& record) {
  const std::string id = record.value("id", "");
  const json meta = record.value("metadata", json::object());
  DUOGEN_CHECK(meta.is_object() && meta.value("world", "") == "shapes", FormatError,
               "sample '{}': its record's metadata has no \"world\": \"shapes\" (is the run made "
               "from the shapes suite?)",
               id);
  DUOGEN_CHECK(meta.contains("kind") && meta["kind"].is_string(), FormatError,
               "sample '{}': metadata.kind is missing", id);
  const std::string kind = meta["kind"].get<std::string>();
  const Output out = first_output(run_dir, record, id);
  json score = {{"id", id}, {"kind", kind}};
  if (kind == "t2i" || kind == "edit" || kind == "compose") {
    // No image reads as an empty picture.
    const ShapeScene got =
        out.images.empty() ? ShapeScene{} : read_shapes(io::read_image_rgb(out.images[0]));
    add_scene_metrics(score, got, scene_of(meta, "target", id));
    score["image"] = out.images.empty() ? 0.0 : 1.0;
  } else if (kind == "describe") {
    add_scene_metrics(score, parse_shapes(out.all_text), scene_of(meta, "target", id));
  } else if (kind == "steps") {
    score_steps(score, meta, out, id);
  } else {
    DUOGEN_FAIL(FormatError,
                "sample '{}': metadata.kind '{}' is not t2i, edit, compose, steps or describe", id,
                kind);
  }
  return score;
}

Table shapes_table(const std::vector<json>& scores) {
  static constexpr std::array<std::string_view, 5> kKinds = {"t2i", "edit", "compose", "steps",
                                                             "describe"};
  static constexpr std::array<std::string_view, 8> kMetrics = {
      "exact", "count", "position", "colour", "shape", "consistency", "bov", "text"};
  Table t;
  t.columns = {"kind", "samples"};
  for (const auto& m : kMetrics) t.columns.emplace_back(m);
  double exact_sum = 0;
  std::int64_t rows = 0, total = 0;
  for (const auto& kind : kKinds) {
    std::int64_t samples = 0;
    std::map<std::string_view, std::pair<double, std::int64_t>> sums;  // metric -> (sum, n)
    for (const auto& s : scores) {
      if (s.value("kind", "") != kind) continue;
      ++samples;
      for (const auto& m : kMetrics) {
        const auto it = s.find(std::string(m));
        if (it == s.end() || !it->is_number()) continue;
        sums[m].first += it->get<double>();
        ++sums[m].second;
      }
    }
    if (samples == 0) continue;
    std::vector<std::string> row = {std::string(kind), std::to_string(samples)};
    for (const auto& m : kMetrics) {
      const auto it = sums.find(m);
      row.push_back(format_number(
          it == sums.end() ? std::nullopt
                           : std::optional<double>(it->second.first / it->second.second)));
    }
    if (const auto it = sums.find("exact"); it != sums.end()) {
      exact_sum += it->second.first / static_cast<double>(it->second.second);
      ++rows;
    }
    total += samples;
    t.rows.push_back(std::move(row));
  }
  std::vector<std::string> overall = {
      "overall", std::to_string(total),
      format_number(rows > 0 ? std::optional<double>(exact_sum / rows) : std::nullopt)};
  overall.resize(t.columns.size(), "-");
  t.rows.push_back(std::move(overall));
  return t;
}

ShapesRunScores score_shapes_run(const fs::path& run_dir) {
  ShapesRunScores out;
  for (const auto& record : read_records(run_dir)) {
    out.scores.push_back(score_shapes_record(run_dir, record));
  }
  out.table = shapes_table(out.scores);
  return out;
}

}  // namespace duogen::bench
