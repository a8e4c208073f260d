// duogen verify --model PATH --reference DUMP [--rtol X] [--json] [--device D]: run a component
// on a reference dump's inputs and compare with what the reference implementation produced.
// Exit 0 when every output is within tolerance, 1 otherwise.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.h"
#include "core/check.h"
#include "core/device.h"
#include "device_options.h"
#include "verify/verifier.h"

namespace duogen::cli {
namespace {

struct VerifyArgs {
  std::string model;
  std::string reference;
  std::optional<double> rtol;
  bool json = false;
  DeviceDtypeArgs placement;  // the dtype is the dump's
};

void print_report(const verify::VerifyReport& r, bool as_json) {
  if (as_json) {
    nlohmann::json j = {{"component", r.component}, {"dtype", r.dtype}, {"rtol", r.rtol},
                        {"passed", r.passed()}, {"outputs", nlohmann::json::array()}};
    for (const auto& c : r.outputs) {
      j["outputs"].push_back({{"name", c.name}, {"shape", c.shape}, {"shape_ok", c.shape_ok},
                              {"max_abs_error", c.max_abs_error}, {"rel_error", c.rel_error},
                              {"passed", c.passed}});
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("component {} ({}), rtol {:.1e}\n", r.component, r.dtype, r.rtol);
  std::cout << fmt::format("  {:<28} {:<18} {:>12} {:>12}  {}\n", "output", "shape", "max_abs",
                           "rel", "result");
  for (const auto& c : r.outputs) {
    std::cout << fmt::format("  {:<28} {:<18} {:>12.3e} {:>12.3e}  {}\n", c.name,
                             fmt::format("[{}]", fmt::join(c.shape, ",")), c.max_abs_error,
                             c.rel_error,
                             c.passed ? "ok" : (c.shape_ok ? "FAIL" : "FAIL (missing/shape)"));
  }
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "verify", "Check a component against a reference dump (tools/reference/dump_reference.py)");
  auto args = std::make_shared<VerifyArgs>();
  cmd->add_option("--model", args->model, "checkpoint directory or file")->required();
  cmd->add_option("--reference", args->reference, "reference dump (.safetensors)")->required();
  cmd->add_option("--rtol", args->rtol,
                  "relative tolerance on ||a-b||/||b|| (default: the dump's, else 1e-5)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "print a JSON report");
  add_device_dtype_options(cmd, args->placement, /*with_dtype=*/false);
  cmd->callback([args] {
    verify::VerifyOptions options;
    options.device = resolve(args->placement).device;
    options.model = args->model;
    options.reference = args->reference;
    options.rtol = args->rtol;
    const auto report = verify::run_verify(options);
    print_report(report, args->json);
    DUOGEN_CHECK(report.passed(), Error, "verify: {} is outside tolerance {:.1e}",
                 report.component, report.rtol);
  });
}

}  // namespace duogen::cli
