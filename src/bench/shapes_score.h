// Scoring runs of the synthetic "shapes world" suite (benchmarks/shapes, made from
// tools/demo_model/world.py): pictures are read back into scenes from their pixels, texts by
// their templated phrases, and compared with the scenes in each record's metadata.
//
// Per sample (the first output only) a score line {"id", "kind", metrics...}:
//   t2i, edit, compose  the first image: exact, count, position, colour, shape, image
//   steps               bov: the answer is exactly ["Step k..." text, image] per step;
//                       exact: the fraction of steps whose image shows metadata.steps[k];
//                       consistency: of steps k >= 2, those whose image keeps every object
//                       read from image k-1; text: the fraction of step texts (the text
//                       before image k) that name exactly the object step k adds
//   describe            the output's text: exact, count, position, colour, shape
// `duogen bench shapes --run DIR` writes them to <run>/shapes/scores.jsonl with a table.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/aggregate.h"

namespace duogen::bench {

struct ShapeObject {
  std::string shape;   // circle | square | triangle
  std::string colour;  // red | green | blue | yellow
  std::string slot;    // left | middle | right
  bool operator==(const ShapeObject&) const = default;
};

// At most one object per slot, sorted left, middle, right.
using ShapeScene = std::vector<ShapeObject>;

// The scene a uint8 [H, W, 3] picture shows. Tolerates blur and noise; throws InvalidArgument
// for a tensor of another type or shape.
ShapeScene read_shapes(const at::Tensor& rgb);

// Every "<colour> <shape> (on the left|in the middle|on the right)" phrase of a text, read in
// text order (the first one per slot wins), returned sorted by slot.
ShapeScene parse_shapes(std::string_view text);

// world.describe(): "a red circle on the left and a blue square in the middle", or "nothing".
std::string describe_scene(const ShapeScene& scene);

// {"exact", "count", "position", "colour", "shape"} of a scene read against the target: exact
// and count are 0/1; position/colour/shape are the fraction of target objects whose slot holds
// an object / one of the right colour / one of the right shape (1 for an empty target).
nlohmann::json score_scene(const ShapeScene& got, const ShapeScene& want);

// A metadata scene [{"shape", "colour", "slot"}, ...]; FormatError naming `where` otherwise.
ShapeScene scene_from_json(const nlohmann::json& objects, const std::string& where);

// One record of a run (read_records) -> its score line. FormatError naming the sample for a
// record that is not from the shapes suite or whose metadata is malformed.
nlohmann::json score_shapes_record(const std::filesystem::path& run_dir,
                                   const nlohmann::json& record);

// One row per kind present (t2i, edit, compose, steps, describe), then "overall" (the mean of
// the rows' exact); a metric that does not apply to a kind is "-".
Table shapes_table(const std::vector<nlohmann::json>& scores);

struct ShapesRunScores {
  std::vector<nlohmann::json> scores;  // in suite order
  Table table;
};

ShapesRunScores score_shapes_run(const std::filesystem::path& run_dir);

}  // namespace duogen::bench
