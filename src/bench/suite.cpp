#include "bench/suite.h"

#include <fstream>
#include <set>
#include <sstream>

#include "core/check.h"

namespace duogen::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The prompts around Cooking-200 and How-to-500 items: the project's own wording. The paper's
// exact instructions are not published; docs/benchmarks.md repeats these.
constexpr const char* kCookingImagePrompt =
    "This dish is {}. Show me how to cook it: write a step-by-step recipe and illustrate every "
    "step with an image.";
constexpr const char* kCookingTextPrompt =
    "Show me how to cook {}: write a step-by-step recipe and illustrate every step with an image.";
constexpr const char* kHowToPrompt =
    "{} Answer with clear steps and illustrate each step with an image.";

struct Line {
  std::string source;  // "file:line"
  json value;
};

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  DUOGEN_CHECK(in.good(), IoError, "{}: cannot open the suite file", file.string());
  std::stringstream text;
  text << in.rdbuf();
  DUOGEN_CHECK(!in.bad(), IoError, "{}: read failed", file.string());
  return text.str();
}

std::vector<Line> read_json_lines(const fs::path& file) {
  std::istringstream in(read_text(file));
  std::vector<Line> lines;
  std::string text;
  for (std::int64_t n = 1; std::getline(in, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string source = fmt::format("{}:{}", file.string(), n);
    json value = json::parse(text, nullptr, false);
    DUOGEN_CHECK(!value.is_discarded(), FormatError, "{}: not valid JSON", source);
    DUOGEN_CHECK(value.is_object(), FormatError, "{}: each line must be a JSON object, got {}",
                 source, value.type_name());
    lines.push_back({source, std::move(value)});
  }
  DUOGEN_CHECK(!lines.empty(), FormatError, "{}: holds no samples", file.string());
  return lines;
}

std::string str(const Line& line, const char* key, bool required) {
  const auto it = line.value.find(key);
  if (it == line.value.end() || it->is_null()) {
    DUOGEN_CHECK(!required, FormatError, "{}: missing required field '{}'", line.source, key);
    return "";
  }
  DUOGEN_CHECK(it->is_string(), FormatError, "{}: '{}' must be a string, got {}", line.source, key,
               it->type_name());
  return it->get<std::string>();
}

fs::path image_path(const std::string& raw, const fs::path& root, const std::string& where) {
  DUOGEN_CHECK(!raw.empty(), FormatError, "{}: empty image path", where);
  fs::path p(raw);
  if (p.is_relative()) p = root / p;
  std::error_code ec;
  DUOGEN_CHECK(fs::is_regular_file(p, ec), FormatError, "{}: image {} does not exist", where,
               p.string());
  return p.lexically_normal();
}

void check_known(const Line& line, std::initializer_list<const char*> known) {
  for (const auto& [key, value] : line.value.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    DUOGEN_CHECK(ok, FormatError, "{}: unknown field '{}'", line.source, key);
  }
}

Sample base_sample(const Line& line, SuiteFormat format, const char* id_key) {
  Sample s;
  s.suite = to_string(format);
  s.id = sanitize_id(str(line, id_key, true), line.source);
  s.category = str(line, "category", false);
  s.subcategory = str(line, "subcategory", false);
  return s;
}

std::vector<Sample> read_generic(const fs::path& file, const fs::path& root) {
  std::vector<Sample> out;
  for (const Line& line : read_json_lines(file)) {
    check_known(line, {"id", "text", "images", "category", "subcategory", "metadata", "options",
                       "task", "repeats"});
    Sample s = base_sample(line, SuiteFormat::kGeneric, "id");
    s.text = str(line, "text", true);
    if (line.value.contains("images")) {
      const json& images = line.value["images"];
      DUOGEN_CHECK(images.is_array(), FormatError, "{}: 'images' must be a list of paths",
                   line.source);
      for (std::size_t i = 0; i < images.size(); ++i) {
        const std::string where = fmt::format("{}: 'images[{}]'", line.source, i);
        DUOGEN_CHECK(images[i].is_string(), FormatError, "{} must be a string", where);
        s.images.push_back(image_path(images[i].get<std::string>(), root, where));
      }
    }
    if (line.value.contains("metadata")) {
      s.metadata = line.value["metadata"];
      DUOGEN_CHECK(s.metadata.is_object(), FormatError, "{}: 'metadata' must be an object",
                   line.source);
    }
    if (line.value.contains("options")) {
      s.options = pipeline::parse_options_object(line.value["options"], line.source + " 'options'");
    }
    if (line.value.contains("task")) s.task = parse_task(str(line, "task", true));
    if (line.value.contains("repeats")) {
      const json& r = line.value["repeats"];
      DUOGEN_CHECK(r.is_number_integer() && r.get<std::int64_t>() >= 1 &&
                       r.get<std::int64_t>() <= 64,
                   FormatError, "{}: 'repeats' must be an integer in [1, 64], got {}", line.source,
                   r.dump());
      s.repeats = r.get<std::int64_t>();
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> read_cooking(const fs::path& file, const fs::path& root, bool with_image) {
  std::vector<Sample> out;
  const SuiteFormat format = with_image ? SuiteFormat::kCooking : SuiteFormat::kCookingText;
  for (const Line& line : read_json_lines(file)) {
    check_known(line, {"id", "title", "image", "category", "subcategory", "metadata"});
    Sample s = base_sample(line, format, "id");
    const std::string title = str(line, "title", true);
    s.metadata = {{"title", title}};
    if (with_image) {
      s.images.push_back(image_path(str(line, "image", true), root, line.source + ": 'image'"));
      s.text = fmt::format(fmt::runtime(kCookingImagePrompt), title);
    } else {
      s.text = fmt::format(fmt::runtime(kCookingTextPrompt), title);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> read_howto(const fs::path& file) {
  std::vector<Sample> out;
  for (const Line& line : read_json_lines(file)) {
    check_known(line, {"id", "question", "category", "subcategory", "metadata"});
    Sample s = base_sample(line, SuiteFormat::kHowTo, "id");
    const std::string question = str(line, "question", true);
    s.metadata = {{"question", question}};
    s.text = fmt::format(fmt::runtime(kHowToPrompt), question);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> read_geneval(const fs::path& file, std::int64_t images_per_prompt) {
  DUOGEN_CHECK(images_per_prompt >= 1, InvalidArgument,
               "GenEval images per prompt must be >= 1, got {}", images_per_prompt);
  std::vector<Sample> out;
  for (const Line& line : read_json_lines(file)) {
    Sample s;
    s.suite = "geneval";
    s.task = Task::kTextToImage;
    s.id = fmt::format("{:05d}", out.size());  // GenEval's own folder name for the prompt
    s.text = str(line, "prompt", true);
    s.category = str(line, "tag", true);
    DUOGEN_CHECK(line.value.contains("include") && line.value["include"].is_array(), FormatError,
                 "{}: GenEval metadata needs an 'include' list", line.source);
    s.metadata = line.value;  // the line itself, written back by the exporter
    s.options.max_images = 1;
    s.repeats = images_per_prompt;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> read_imgedit(const fs::path& file, const fs::path& root) {
  const json doc = json::parse(read_text(file), nullptr, false);
  DUOGEN_CHECK(!doc.is_discarded(), FormatError, "{}: not valid JSON", file.string());
  DUOGEN_CHECK(doc.is_object() && !doc.empty(), FormatError,
               "{}: an ImgEdit list is a JSON object {{key: {{id, prompt, edit_type}}}}",
               file.string());
  std::vector<Sample> out;
  for (const auto& [key, item] : doc.items()) {
    const Line line{fmt::format("{}: '{}'", file.string(), key), item};
    DUOGEN_CHECK(item.is_object(), FormatError, "{}: must be an object", line.source);
    Sample s;
    s.suite = "imgedit";
    s.task = Task::kEdit;
    s.id = sanitize_id(key, line.source);
    s.category = str(line, "edit_type", true);
    s.text = str(line, "prompt", true);
    s.images.push_back(image_path(str(line, "id", true), root, line.source + ": 'id'"));
    s.metadata = {{"key", key}, {"edit_type", s.category}, {"image", str(line, "id", true)}};
    s.options.max_images = 1;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> read_gedit(const fs::path& file, const fs::path& root) {
  std::vector<Sample> out;
  for (const Line& line : read_json_lines(file)) {
    const std::string key = str(line, "key", true);
    Sample s;
    s.suite = "gedit";
    s.task = Task::kEdit;
    s.id = sanitize_id(key, line.source);
    s.category = str(line, "task_type", true);
    s.text = str(line, "instruction", true);
    const std::string language = str(line, "instruction_language", true);
    s.subcategory = language;
    s.images.push_back(image_path(str(line, "image", true), root, line.source + ": 'image'"));
    s.metadata = line.value;
    s.metadata["key"] = key;
    s.options.max_images = 1;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

SuiteFormat parse_suite_format(const std::string& name) {
  if (name == "generic") return SuiteFormat::kGeneric;
  if (name == "cooking") return SuiteFormat::kCooking;
  if (name == "cooking-text") return SuiteFormat::kCookingText;
  if (name == "howto") return SuiteFormat::kHowTo;
  if (name == "geneval") return SuiteFormat::kGenEval;
  if (name == "imgedit") return SuiteFormat::kImgEdit;
  if (name == "gedit") return SuiteFormat::kGEdit;
  DUOGEN_FAIL(UsageError,
              "unknown suite format '{}' (generic, cooking, cooking-text, howto, geneval, "
              "imgedit or gedit)",
              name);
}

const char* to_string(SuiteFormat format) {
  switch (format) {
    case SuiteFormat::kGeneric: return "generic";
    case SuiteFormat::kCooking: return "cooking";
    case SuiteFormat::kCookingText: return "cooking-text";
    case SuiteFormat::kHowTo: return "howto";
    case SuiteFormat::kGenEval: return "geneval";
    case SuiteFormat::kImgEdit: return "imgedit";
    case SuiteFormat::kGEdit: return "gedit";
  }
  return "?";
}

const char* to_string(Task task) {
  switch (task) {
    case Task::kInterleaved: return "interleaved";
    case Task::kTextToImage: return "t2i";
    case Task::kEdit: return "edit";
  }
  return "?";
}

Task parse_task(const std::string& name) {
  if (name == "interleaved") return Task::kInterleaved;
  if (name == "t2i") return Task::kTextToImage;
  if (name == "edit") return Task::kEdit;
  DUOGEN_FAIL(FormatError, "unknown task '{}' (interleaved, t2i or edit)", name);
}

SuiteFormat detect_suite_format(const fs::path& file) {
  const std::string text = read_text(file);
  const auto first = text.find_first_not_of(" \t\r\n");
  DUOGEN_CHECK(first != std::string::npos, FormatError, "{}: empty suite file", file.string());
  // A whole-file JSON object whose values are objects: the ImgEdit list.
  const json whole = json::parse(text, nullptr, false);
  if (!whole.is_discarded() && whole.is_object() && !whole.empty() &&
      whole.begin()->is_object() && whole.begin()->contains("edit_type")) {
    return SuiteFormat::kImgEdit;
  }
  const auto end = text.find('\n', first);
  const json line = json::parse(text.substr(first, end == std::string::npos ? end : end - first),
                                nullptr, false);
  DUOGEN_CHECK(!line.is_discarded() && line.is_object(), FormatError,
               "{}: the first line is not a JSON object; cannot tell the suite format",
               file.string());
  if (line.contains("tag") && line.contains("include")) return SuiteFormat::kGenEval;
  if (line.contains("task_type") && line.contains("instruction")) return SuiteFormat::kGEdit;
  if (line.contains("title")) return SuiteFormat::kCooking;
  if (line.contains("question")) return SuiteFormat::kHowTo;
  if (line.contains("text")) return SuiteFormat::kGeneric;
  DUOGEN_FAIL(FormatError,
              "{}: cannot tell the suite format from the first item (give --suite-format)",
              file.string());
}

Suite read_suite(const fs::path& file, const SuiteReadOptions& options) {
  Suite suite;
  suite.file = file;
  suite.format = options.format ? *options.format : detect_suite_format(file);
  const fs::path root = options.image_root ? *options.image_root
                                           : fs::absolute(file).parent_path();
  switch (suite.format) {
    case SuiteFormat::kGeneric: suite.samples = read_generic(file, root); break;
    case SuiteFormat::kCooking: suite.samples = read_cooking(file, root, true); break;
    case SuiteFormat::kCookingText: suite.samples = read_cooking(file, root, false); break;
    case SuiteFormat::kHowTo: suite.samples = read_howto(file); break;
    case SuiteFormat::kGenEval:
      suite.samples = read_geneval(file, options.geneval_images_per_prompt);
      break;
    case SuiteFormat::kImgEdit: suite.samples = read_imgedit(file, root); break;
    case SuiteFormat::kGEdit: suite.samples = read_gedit(file, root); break;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < suite.samples.size(); ++i) {
    Sample& s = suite.samples[i];
    s.index = static_cast<std::int64_t>(i);
    DUOGEN_CHECK(seen.insert(s.id).second, FormatError, "{}: duplicate sample id '{}'",
                 file.string(), s.id);
  }
  return suite;
}

pipeline::Message sample_message(const Sample& sample) {
  pipeline::Message m;
  m.role = "user";
  for (const auto& image : sample.images) {
    pipeline::ContentPart part;
    part.kind = pipeline::ContentPart::Kind::kImage;
    part.image_path = image;
    m.content.push_back(std::move(part));
  }
  pipeline::ContentPart text;
  text.text = sample.text;
  m.content.push_back(std::move(text));
  return m;
}

std::uint64_t derive_seed(const std::string& id, std::uint64_t base_seed, std::int64_t repeat) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (const unsigned char c : id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  std::uint64_t z = h + base_seed + static_cast<std::uint64_t>(repeat) * 0x9E3779B97F4A7C15ULL;
  // splitmix64's finaliser spreads neighbouring inputs over the whole range.
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return z & 0x7FFFFFFFULL;
}

std::vector<pipeline::Job> sample_jobs(const Sample& sample, std::uint64_t base_seed) {
  std::vector<pipeline::Job> jobs;
  for (std::int64_t r = 0; r < sample.repeats; ++r) {
    pipeline::Job job;
    job.id = sample.repeats == 1 ? sample.id : fmt::format("{}.r{}", sample.id, r);
    job.source = fmt::format("{} sample '{}'", sample.suite, sample.id);
    job.messages.push_back(sample_message(sample));
    job.options = sample.options;
    job.options.seed = derive_seed(sample.id, base_seed, r);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::string sanitize_id(const std::string& raw, const std::string& where) {
  DUOGEN_CHECK(!raw.empty() && raw.size() <= 128, FormatError,
               "{}: sample id '{}' must have 1 to 128 characters", where, raw);
  std::string id = raw;
  for (char& c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (id[0] == '.') id[0] = '_';
  return id;
}

}  // namespace duogen::bench
