// duogen bench --model DIR --suite F --out DIR [--resume] [--shard i/N] [job options]
// duogen bench merge --out DIR [SHARD_DIR ...]
// duogen bench export --run DIR --format geneval|imgedit|gedit|comm --out DIR
// duogen bench aggregate --run DIR [--gedit-scores F] [--imgedit-scores F --edit-list F] --out P
// duogen bench report --run DIR
// duogen bench shapes --run DIR [--out PREFIX]
// duogen judge --run DIR (--export F | --import F | --judge-model DIR) [--rubric F]
#include "cmd_bench.h"

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bench/aggregate.h"
#include "bench/export.h"
#include "bench/judge.h"
#include "bench/report.h"
#include "bench/run.h"
#include "bench/shapes_score.h"
#include "bench/suite.h"
#include "core/check.h"
#include "core/device.h"
#include "device_options.h"
#include "io/atomic_file.h"

namespace duogen::cli {
namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  std::string model, mllm, dit, vae, tokenizer;
  std::string suite, suite_format, images, out, shard, model_name;
  bool resume = false;
  std::uint64_t seed = 0;
  std::int64_t geneval_images = 4;
  std::optional<std::int64_t> steps, width, height, max_new_tokens, max_images;
  std::optional<double> guidance, temperature;
  DeviceDtypeArgs placement;
};

std::optional<fs::path> opt_path(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<fs::path>(s);
}

void print_progress(const bench::Progress& p) {
  // A redrawn bar on a terminal, plain lines in logs (Slurm output files, pipes).
  if (::isatty(fileno(stderr))) {
    fmt::print(stderr, "\r{}{}", bench::format_progress(p, true), p.done == p.total ? "\n" : "");
  } else {
    fmt::print(stderr, "{}\n", bench::format_progress(p, false));
  }
  std::fflush(stderr);
}

void run_bench_command(const BenchArgs& a, const BenchModelLoader& load_models,
                       const EnvLookup& getenv) {
  DUOGEN_CHECK(!a.suite.empty(), UsageError, "bench: --suite is required");
  DUOGEN_CHECK(!a.out.empty(), UsageError, "bench: --out is required");
  const DevicePlacement placement = resolve(a.placement);
  bench::SuiteReadOptions read;
  if (!a.suite_format.empty()) read.format = bench::parse_suite_format(a.suite_format);
  if (!a.images.empty()) read.image_root = fs::path(a.images);
  read.geneval_images_per_prompt = a.geneval_images;
  const bench::Suite suite = bench::read_suite(a.suite, read);

  bench::BenchOptions options;
  options.shard = !a.shard.empty() ? bench::parse_shard(a.shard)
                                   : bench::shard_from_environment(getenv).value_or(bench::Shard{});
  options.out_dir = a.out;
  if (options.shard.count > 1) {
    options.out_dir /= fmt::format("shard-{:03d}-of-{:03d}", options.shard.index,
                                   options.shard.count);
  }
  options.resume = a.resume;
  options.base_seed = a.seed;
  options.cli.steps = a.steps;
  options.cli.width = a.width;
  options.cli.height = a.height;
  options.cli.max_new_tokens = a.max_new_tokens;
  options.cli.max_images = a.max_images;
  options.cli.guidance = a.guidance;
  options.cli.temperature = a.temperature;

  std::optional<pipeline::ModelManifest> base;
  if (!a.model.empty()) base = pipeline::read_manifest(a.model);
  const pipeline::ModelManifest manifest = pipeline::resolve_components(
      base, opt_path(a.mllm), opt_path(a.dit), opt_path(a.vae), opt_path(a.tokenizer));
  options.model_name = !a.model_name.empty() ? a.model_name
                       : !a.model.empty()    ? fs::absolute(a.model).lexically_normal().filename().string()
                                             : "duogen";
  spdlog::info("suite {} ({}): {} samples; shard {}/{} -> {}", a.suite, to_string(suite.format),
               suite.samples.size(), options.shard.index, options.shard.count,
               options.out_dir.string());
  LoadedModels models = load_models(manifest, placement);
  DUOGEN_CHECK(models.mllm && models.images, InvalidArgument,
               "bench: the model loader returned no MLLM or no image model");
  bench::BenchModels m{&manifest, models.mllm.get(), models.images.get(), models.lookup,
                       models.stop_token_ids};
  bench::BenchCallbacks callbacks;
  callbacks.on_progress = print_progress;
  const auto summary = bench::run_bench(suite, m, options, callbacks);
  spdlog::info("{} finished, {} skipped (done earlier), {} failed", summary.finished,
               summary.skipped, summary.failures.size());
  for (const auto& [id, message] : summary.failures) spdlog::warn("failed: {}: {}", id, message);
}

void add_merge(CLI::App* bench) {
  auto* cmd = bench->add_subcommand("merge", "join shard outputs into one run");
  auto out = std::make_shared<std::string>();
  auto shards = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--out", *out, "the run directory (its shard-* folders are merged into it)")
      ->required();
  cmd->add_option("shards", *shards, "shard directories (default: <out>/shard-*)");
  cmd->callback([out, shards] {
    std::vector<fs::path> dirs(shards->begin(), shards->end());
    if (dirs.empty()) dirs = bench::find_shard_dirs(*out);
    DUOGEN_CHECK(!dirs.empty(), UsageError, "bench merge: no shard-* directories in {}", *out);
    bench::merge_runs(dirs, *out);
    spdlog::info("merged {} shards into {}", dirs.size(), *out);
  });
}

void add_export(CLI::App* bench) {
  auto* cmd = bench->add_subcommand("export", "write a run in an official scorer's layout");
  struct Args {
    std::string run, format, out, model_name = "duogen";
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--run", a->run, "run directory")->required();
  cmd->add_option("--format", a->format, "geneval, imgedit, gedit or comm")->required();
  cmd->add_option("--out", a->out, "output directory")->required();
  cmd->add_option("--model-name", a->model_name, "GEdit's model folder name");
  cmd->callback([a] {
    bench::ExportOptions options;
    options.model_name = a->model_name;
    const auto r = bench::export_run(a->run, bench::parse_export_format(a->format), a->out,
                                     options);
    spdlog::info("exported {} samples to {}", r.exported, a->out);
    if (!r.missing.empty()) {
      spdlog::warn("{} samples made no image: {}", r.missing.size(),
                   fmt::join(r.missing, ", "));
    }
  });
}

void write_table(const bench::Table& table, const std::string& prefix) {
  io::write_file_atomically(prefix + ".md", bench::to_markdown(table));
  io::write_file_atomically(prefix + ".csv", bench::to_csv(table));
  fmt::print("{}", bench::to_markdown(table));
}

void add_aggregate(CLI::App* bench) {
  auto* cmd = bench->add_subcommand("aggregate", "score tables as Markdown and CSV");
  struct Args {
    std::string run, rubric = "configs/judge_rubric.json", gedit, imgedit, edit_list, out;
    std::string language = "en";
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--run", a->run, "run directory (judge scores in <run>/judge/scores.jsonl)");
  cmd->add_option("--rubric", a->rubric, "judge rubric (metric names and order)");
  cmd->add_option("--gedit-scores", a->gedit, "GEdit per-sample scores (JSON Lines)");
  cmd->add_option("--gedit-language", a->language, "GEdit instruction language");
  cmd->add_option("--imgedit-scores", a->imgedit, "ImgEdit scores {key: score}");
  cmd->add_option("--edit-list", a->edit_list, "ImgEdit edit list (for the edit types)");
  cmd->add_option("--out", a->out, "output prefix: writes <prefix>.md and <prefix>.csv")
      ->required();
  cmd->callback([a] {
    if (!a->gedit.empty()) {
      write_table(bench::gedit_table(bench::read_gedit_scores(a->gedit), a->language), a->out);
    } else if (!a->imgedit.empty()) {
      DUOGEN_CHECK(!a->edit_list.empty(), UsageError, "--imgedit-scores needs --edit-list");
      write_table(bench::imgedit_table(bench::read_imgedit_scores(a->imgedit, a->edit_list)),
                  a->out);
    } else {
      DUOGEN_CHECK(!a->run.empty(), UsageError,
                   "bench aggregate: give --run, --gedit-scores or --imgedit-scores");
      const auto scores = bench::read_scores(bench::scores_file(a->run));
      write_table(bench::judge_table(bench::read_records(a->run), scores,
                                     bench::read_rubric(a->rubric)),
                  a->out);
    }
  });
}

void add_report(CLI::App* bench) {
  auto* cmd = bench->add_subcommand("report", "write <run>/report.html");
  auto run = std::make_shared<std::string>();
  cmd->add_option("--run", *run, "run directory")->required();
  cmd->callback([run] { fmt::print("{}\n", bench::write_report(*run).string()); });
}

void add_shapes(CLI::App* bench) {
  auto* cmd = bench->add_subcommand("shapes", "score a run of the shapes-world suite");
  struct Args {
    std::string run, out;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--run", a->run, "run directory (scores go to <run>/shapes/scores.jsonl)")
      ->required();
  cmd->add_option("--out", a->out,
                  "table prefix: writes <prefix>.md and <prefix>.csv (default <run>/shapes/table)");
  cmd->callback([a] {
    const auto result = bench::score_shapes_run(a->run);
    const fs::path dir = fs::path(a->run) / "shapes";
    const std::string prefix = !a->out.empty() ? a->out : (dir / "table").string();
    for (const fs::path& d : {dir, fs::path(prefix).parent_path()}) {
      std::error_code ec;
      if (!d.empty()) fs::create_directories(d, ec);
      DUOGEN_CHECK(!ec, IoError, "{}: cannot create: {}", d.string(), ec.message());
    }
    std::string lines;
    for (const auto& s : result.scores) lines += bench::dump_json(s) + "\n";
    io::write_file_atomically(dir / "scores.jsonl", lines);
    spdlog::info("{} samples scored into {}", result.scores.size(),
                 (dir / "scores.jsonl").string());
    write_table(result.table, prefix);
  });
}

}  // namespace

void add_bench_command(CLI::App& app, BenchModelLoader load_models, EnvLookup getenv) {
  auto* cmd = app.add_subcommand("bench", "run a benchmark suite (or merge/export/aggregate/report)");
  cmd->require_subcommand(0, 1);
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("--model", a->model, "DuoGen model directory (duogen.json)");
  cmd->add_option("--mllm", a->mllm, "Qwen2.5-VL directory (over --model)");
  cmd->add_option("--dit", a->dit, "DiT weights (over --model)");
  cmd->add_option("--vae", a->vae, "VAE weights (over --model)");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer directory (over --model)");
  cmd->add_option("--suite", a->suite, "suite file");
  cmd->add_option("--suite-format", a->suite_format,
                  "generic, cooking, cooking-text, howto, geneval, imgedit, gedit (default: "
                  "detected)");
  cmd->add_option("--images", a->images, "root for relative image paths (default: the suite's folder)");
  cmd->add_option("--out", a->out, "run directory");
  cmd->add_flag("--resume", a->resume, "continue a run: skip finished samples, redo the rest");
  cmd->add_option("--shard", a->shard,
                  "i/N: run every N-th sample from i (default: from SLURM_ARRAY_TASK_ID/COUNT, "
                  "SLURM_PROCID/NTASKS, RANK/WORLD_SIZE or OMPI_COMM_WORLD_RANK/SIZE)");
  cmd->add_option("--model-name", a->model_name, "name recorded in run.json");
  cmd->add_option("--seed", a->seed, "base seed mixed into every sample's derived seed");
  cmd->add_option("--geneval-images", a->geneval_images, "images per GenEval prompt")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--steps", a->steps, "sampling steps")->check(CLI::Range(1, 1000));
  cmd->add_option("--guidance", a->guidance, "guidance scale")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--width", a->width, "image width")->check(CLI::Range(16, 8192));
  cmd->add_option("--height", a->height, "image height")->check(CLI::Range(16, 8192));
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "text token limit per sample")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-images", a->max_images, "image limit per sample")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--temperature", a->temperature, "text sampling temperature")
      ->check(CLI::Range(0.0, 10.0));
  add_device_dtype_options(cmd, a->placement);
  add_merge(cmd);
  add_export(cmd);
  add_aggregate(cmd);
  add_report(cmd);
  add_shapes(cmd);
  cmd->callback([cmd, a, load_models, getenv] {
    if (!cmd->get_subcommands().empty()) return;  // merge/export/aggregate/report/shapes ran
    run_bench_command(*a, load_models, getenv);
  });
}

void add_judge_command(CLI::App& app, JudgeModelLoader load_judge) {
  auto* cmd = app.add_subcommand("judge", "score a run's interleaved outputs on the rubric");
  struct Args {
    std::string run, rubric = "configs/judge_rubric.json", export_file, import_file, judge_model;
    std::string batch_model = "gpt-4o";
    std::int64_t max_tokens = 512;
    DeviceDtypeArgs placement;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--run", a->run, "run directory")->required();
  cmd->add_option("--rubric", a->rubric, "rubric file");
  auto* exp = cmd->add_option("--export", a->export_file,
                              "write the requests as OpenAI Batch API JSON Lines");
  auto* imp = cmd->add_option("--import", a->import_file, "read Batch API results back");
  auto* local = cmd->add_option("--judge-model", a->judge_model,
                                "judge locally with this Qwen2.5-VL checkpoint directory");
  exp->excludes(imp)->excludes(local);
  imp->excludes(local);
  cmd->add_option("--batch-model", a->batch_model, "the model named in exported requests");
  cmd->add_option("--max-tokens", a->max_tokens, "judge answer length")->check(CLI::Range(16, 8192));
  add_device_dtype_options(cmd, a->placement);
  cmd->callback([a, load_judge] {
    const DevicePlacement placement = resolve(a->placement);  // before any file is read
    const bench::Rubric rubric = bench::read_rubric(a->rubric);
    if (!a->export_file.empty()) {
      const auto n = bench::export_batch(a->run, rubric, a->export_file,
                                         {a->batch_model, a->max_tokens});
      spdlog::info("wrote {} judge requests to {}", n, a->export_file);
      return;
    }
    std::vector<bench::JudgeScore> scores;
    if (!a->import_file.empty()) {
      scores = bench::import_batch(a->import_file, rubric);
      bench::write_scores(bench::scores_file(a->run), scores);
    } else {
      DUOGEN_CHECK(!a->judge_model.empty(), UsageError,
                   "judge: give --export FILE, --import FILE or --judge-model DIR");
      LoadedModels judge = load_judge(a->judge_model, placement);
      DUOGEN_CHECK(judge.mllm != nullptr, InvalidArgument, "judge: the loader returned no model");
      bench::LocalJudgeSettings settings;
      settings.stop_token_ids = judge.stop_token_ids;
      settings.max_new_tokens = a->max_tokens;
      if (judge.lookup) settings.bov_token_id = judge.lookup("<BOV>").value_or(-1);
      scores = bench::judge_with_model(a->run, rubric, *judge.mllm, settings);
    }
    std::size_t unscored = 0;
    for (const auto& s : scores) unscored += s.score ? 0 : 1;
    spdlog::info("{} scores in {} ({} without a score)", scores.size(),
                 bench::scores_file(a->run).string(), unscored);
    fmt::print("{}", bench::to_markdown(bench::judge_table(bench::read_records(a->run), scores,
                                                           rubric)));
  });
}

}  // namespace duogen::cli
