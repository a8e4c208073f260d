// Job files for `duogen video`: JSON (one job) or JSON Lines (one per line), each an object
//   {"id": "robot-1", "prompt": "...", "negative_prompt": "...",   (absent: the default)
//    "image": "first.png" | "video": "clip.mp4",                    (paths relative to the file)
//    "num_frames": 93, "width": 1280, "height": 704, "steps": 36, "guidance": 7.0, "seed": 0,
//    "fps": 16, "num_latent_conditional_frames": 2, "conditional_frame_timestep": 0.0001,
//    "max_sequence_length": 512}
// Unknown keys, wrong types and bad values are errors naming the file, line and field, raised
// before any model loads; so are missing image/video files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/cosmos/world_pipeline.h"

namespace duogen::pipeline::cosmos {

struct WorldJob {
  std::string id;
  std::string source;                          // "file:line" for messages
  WorldRequest request;                        // without the image / video tensors
  std::optional<std::filesystem::path> image;  // image -> world
  std::optional<std::filesystem::path> video;  // video -> world (a file or a frame directory)
  std::optional<double> fps;  // output frame rate; unset: the input video's, else 16
};

// Fields given on the command line apply under each job's own.
struct WorldJobDefaults {
  WorldRequest request;
  std::optional<double> fps;
};

std::vector<WorldJob> read_world_jobs(const std::filesystem::path& file,
                                      const WorldJobDefaults& defaults);

}  // namespace duogen::pipeline::cosmos
