// The smallest program on duogen's library API: load a model, answer one prompt with streamed
// text and images, save the images.
//
//   interleaved MODEL_DIR "How do I fold a paper boat? Show each step." [OUT_DIR]
//
// It includes only <duogen/duogen.h> and links the duogen library (see examples/CMakeLists.txt).
#include <duogen/duogen.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR PROMPT [OUT_DIR]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argc > 3 ? argv[3] : ".";
  try {
    duogen::EngineOptions options;
    options.model = argv[1];
    const auto engine = duogen::Engine::load(options);

    duogen::Job job;
    job.id = "example";
    job.messages = {{"user", {duogen::text_part(argv[2])}}};
    job.options.max_images = 2;

    duogen::GenerationCallbacks on;
    on.on_text = [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
    on.on_image_progress = [](std::size_t image, std::int64_t step, std::int64_t steps) {
      std::fprintf(stderr, "\rimage %zu: step %lld/%lld", image, static_cast<long long>(step),
                   static_cast<long long>(steps));
      if (step == steps) std::fprintf(stderr, "\n");
    };
    on.on_image = [&](std::size_t index, const duogen::Image& image) {
      const auto path = out / ("example-" + std::to_string(index) + ".png");
      duogen::save_png(path, image);
      std::printf("\n[image %zu: %s]\n", index, path.string().c_str());
    };
    const duogen::GenerationResult result = engine->generate(job, on);
    std::printf("\n%lld prompt tokens, %lld generated, %zu image(s), stop: %s\n",
                static_cast<long long>(result.prompt_tokens),
                static_cast<long long>(result.completion_tokens), result.images,
                result.stop_reason.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
