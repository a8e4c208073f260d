#include "io/safetensors.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/check.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "io/pickle_checkpoint.h"

namespace duogen::io {
namespace {

using nlohmann::json;

std::uint64_t read_le_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses the header JSON, rejecting duplicate top-level names (which a plain parse would
// silently collapse to the last one).
json parse_header(const std::string& file, const char* begin, const char* end) {
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && duplicate.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second) duplicate = key;
    }
    return true;
  };
  json header = json::parse(begin, end, cb, /*allow_exceptions=*/false);
  DUOGEN_CHECK(!header.is_discarded(), FormatError,
               "{}: the header is not valid JSON (or not valid UTF-8)", file);
  DUOGEN_CHECK(header.is_object(), FormatError, "{}: the header must be a JSON object", file);
  DUOGEN_CHECK(duplicate.empty(), FormatError, "{}: tensor '{}' appears more than once in the header",
               file, duplicate);
  return header;
}

std::uint64_t parse_uint(const json& v, const std::string& file, const std::string& name,
                         const char* what) {
  DUOGEN_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0),
               FormatError, "{}: tensor '{}': {} must be non-negative integers, got {}", file, name,
               what, v.dump());
  return v.get<std::uint64_t>();
}

TensorInfo parse_entry(const std::string& file, const std::string& name, const json& entry) {
  DUOGEN_CHECK(entry.is_object(), FormatError, "{}: tensor '{}': entry must be an object", file,
               name);
  TensorInfo info;
  info.name = name;

  auto dt = entry.find("dtype");
  DUOGEN_CHECK(dt != entry.end() && dt->is_string(), FormatError,
               "{}: tensor '{}': missing or non-string 'dtype'", file, name);
  auto dtype = dtype_from_safetensors_name(dt->get_ref<const std::string&>());
  DUOGEN_CHECK(dtype.has_value(), FormatError, "{}: tensor '{}': unsupported dtype '{}'", file, name,
               dt->get_ref<const std::string&>());
  info.dtype = *dtype;

  auto sh = entry.find("shape");
  DUOGEN_CHECK(sh != entry.end() && sh->is_array(), FormatError,
               "{}: tensor '{}': missing or non-array 'shape'", file, name);
  constexpr auto kMaxI64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t numel = 1;
  // Product of the non-zero dims: ATen's strides must fit in int64 even when a zero dim makes the
  // tensor empty (at::empty({0, 1 << 62, 4}) throws "Stride calculation overflowed").
  std::uint64_t span = 1;
  for (const auto& d : *sh) {
    const std::uint64_t dim = parse_uint(d, file, name, "shape entries");
    DUOGEN_CHECK(!__builtin_mul_overflow(span, std::max<std::uint64_t>(dim, 1), &span) &&
                     span <= kMaxI64,
                 FormatError, "{}: tensor '{}': shape {} overflows", file, name, sh->dump());
    numel *= dim;  // numel <= span
    info.shape.push_back(static_cast<std::int64_t>(dim));
  }
  std::uint64_t expected_bytes = 0;
  DUOGEN_CHECK(!__builtin_mul_overflow(numel, element_size(info.dtype), &expected_bytes),
               FormatError, "{}: tensor '{}': shape {} overflows", file, name, sh->dump());

  auto off = entry.find("data_offsets");
  DUOGEN_CHECK(off != entry.end() && off->is_array() && off->size() == 2, FormatError,
               "{}: tensor '{}': 'data_offsets' must be an array [begin, end]", file, name);
  const std::uint64_t begin = parse_uint((*off)[0], file, name, "data_offsets");
  const std::uint64_t end = parse_uint((*off)[1], file, name, "data_offsets");
  DUOGEN_CHECK(begin <= end, FormatError, "{}: tensor '{}': data_offsets [{}, {}] end before begin",
               file, name, begin, end);
  info.nbytes = end - begin;
  DUOGEN_CHECK(info.nbytes == expected_bytes, FormatError,
               "{}: tensor '{}': holds {} bytes but {} {} needs {}", file, name, info.nbytes,
               safetensors_name(info.dtype), sh->dump(), expected_bytes);
  info.begin = begin;  // relative for now; made absolute once the header length is known
  return info;
}

std::map<std::string, std::string> parse_metadata(const std::string& file, const json& meta) {
  DUOGEN_CHECK(meta.is_object(), FormatError, "{}: '__metadata__' must be an object", file);
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : meta.items()) {
    DUOGEN_CHECK(v.is_string(), FormatError, "{}: '__metadata__' value of '{}' must be a string",
                 file, k);
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

}  // namespace

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile st;
  st.file_ = MappedFile::open(path);
  const std::string file = path.string();
  const std::uint64_t size = st.file_->size();
  DUOGEN_CHECK(size >= 8, FormatError,
               "{}: truncated: {} bytes, but a safetensors file starts with an 8-byte header length",
               file, size);
  const std::uint64_t header_len = read_le_u64(st.file_->data());
  // A PyTorch pickle (.pt/.pth/.bin/.ckpt) read as safetensors gives a nonsensical header; say what
  // the file is and how to convert it. Only when the bytes are not a valid start of a
  // safetensors file: a header length of 640 also begins with the bytes 0x80 0x02.
  const auto* first = st.file_->data();
  const bool valid_start = header_len <= kMaxSafetensorsHeaderBytes && header_len <= size - 8 &&
                           header_len >= 2 && first[8] == '{';
  if (!valid_start) {
    if (auto pickle = pickle_checkpoint_error(path, first, size))
      DUOGEN_FAIL(FormatError, "{}", *pickle);
  }
  DUOGEN_CHECK(header_len <= kMaxSafetensorsHeaderBytes, FormatError,
               "{}: header length {} exceeds the {}-byte limit (corrupt file?)", file, header_len,
               kMaxSafetensorsHeaderBytes);
  DUOGEN_CHECK(header_len <= size - 8, FormatError,
               "{}: truncated: header length {} but only {} bytes follow it", file, header_len,
               size - 8);
  DUOGEN_CHECK(header_len >= 2, FormatError, "{}: header length {} is too short for a JSON object",
               file, header_len);
  const char* hbegin = reinterpret_cast<const char*>(st.file_->data() + 8);
  const json header = parse_header(file, hbegin, hbegin + header_len);

  const std::uint64_t data_start = 8 + header_len;
  const std::uint64_t data_len = size - data_start;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      st.metadata_ = parse_metadata(file, entry);
      continue;
    }
    TensorInfo info = parse_entry(file, name, entry);
    DUOGEN_CHECK(info.begin + info.nbytes <= data_len, FormatError,
                 "{}: tensor '{}': data [{}, {}) lies past the end of the file (data section is {} "
                 "bytes; truncated?)",
                 file, name, info.begin, info.begin + info.nbytes, data_len);
    st.tensors_.push_back(std::move(info));
  }

  // Offsets must tile the data section: sorted, no overlap, no hole, nothing after the end.
  std::sort(st.tensors_.begin(), st.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.nbytes < b.nbytes;
  });
  std::uint64_t expected = 0;
  const TensorInfo* prev = nullptr;
  for (const auto& t : st.tensors_) {
    DUOGEN_CHECK(t.begin >= expected, FormatError,
                 "{}: tensor '{}' at [{}, {}) overlaps tensor '{}' ending at {}", file, t.name,
                 t.begin, t.begin + t.nbytes, prev ? prev->name : "", expected);
    DUOGEN_CHECK(t.begin == expected, FormatError,
                 "{}: tensor '{}' starts at {} leaving a hole after offset {}", file, t.name,
                 t.begin, expected);
    expected = t.begin + t.nbytes;
    prev = &t;
  }
  DUOGEN_CHECK(expected == data_len, FormatError,
               "{}: {} bytes after the last tensor are not described by the header", file,
               data_len - expected);

  for (std::size_t i = 0; i < st.tensors_.size(); ++i) {
    st.tensors_[i].begin += data_start;
    st.index_.emplace(st.tensors_[i].name, i);
  }
  return st;
}

const std::filesystem::path& SafetensorsFile::path() const { return file_->path(); }
std::uint64_t SafetensorsFile::file_size() const { return file_->size(); }

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::info(std::string_view name) const {
  const TensorInfo* info = find(name);
  DUOGEN_CHECK(info != nullptr, InvalidArgument, "{}: no tensor named '{}'", path().string(), name);
  return *info;
}

at::Tensor SafetensorsFile::tensor(std::string_view name) const { return tensor(info(name)); }

at::Tensor SafetensorsFile::tensor(const TensorInfo& info) const {
  const auto options = at::TensorOptions().dtype(to_scalar_type(info.dtype)).device(at::kCPU);
  std::uint8_t* ptr = file_->data() + info.begin;
  const std::size_t esize = element_size(info.dtype);
  if (info.nbytes == 0 || reinterpret_cast<std::uintptr_t>(ptr) % esize != 0) {
    // Unaligned (or empty) data: ATen kernels assume element alignment, so copy.
    at::Tensor out = at::empty(info.shape, options);
    if (info.nbytes > 0) std::memcpy(out.data_ptr(), ptr, info.nbytes);
    return out;
  }
  if (info.dtype == DType::kBool) {
    // Any byte but 0/1 in a bool is undefined behaviour once ATen reads it.
    const std::uint8_t* begin = ptr;
    const std::uint8_t* end = ptr + info.nbytes;
    const std::uint8_t* bad = std::find_if(begin, end, [](std::uint8_t b) { return b > 1; });
    DUOGEN_CHECK(bad == end, FormatError, "{}: tensor '{}': BOOL byte {} at element {} is not 0 or 1",
                 path().string(), info.name, static_cast<int>(*bad), bad - ptr);
  }
  std::shared_ptr<MappedFile> keep_alive = file_;
  return at::from_blob(
      ptr, info.shape, [keep_alive](void*) mutable { keep_alive.reset(); }, options);
}

void SafetensorsFile::release(const TensorInfo& info) const {
  file_->release(info.begin, info.nbytes);
}

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DUOGEN_CHECK(name != "__metadata__" && !header.contains(name), InvalidArgument,
                 "{}: duplicate or reserved tensor name '{}'", path.string(), name);
    DUOGEN_CHECK(t.defined(), InvalidArgument, "{}: tensor '{}' is undefined", path.string(), name);
    const DType dtype = from_scalar_type(t.scalar_type());
    at::Tensor c = t.to(at::kCPU).contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(c.numel()) * element_size(dtype);
    header[name] = {{"dtype", safetensors_name(dtype)},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(std::move(c));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // invalid UTF-8 in a name or metadata string
    DUOGEN_FAIL(InvalidArgument, "{}: tensor names and metadata must be valid UTF-8 ({})",
                path.string(), e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned

  AtomicFileWriter out(path);
  std::uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(text.size() >> (8 * i));
  out.write(len, 8);
  out.write(text);
  for (const auto& c : contiguous) out.write(c.data_ptr(), c.numel() * c.element_size());
  out.commit();
}

}  // namespace duogen::io
