#include "tokenizer/bpe_model.h"

#include <queue>

#include "core/check.h"

namespace duogen::tokenizer {
namespace {

// Words longer than this are encoded every time rather than cached (HF does the same), so a
// long unbroken input cannot fill the cache with one-off entries.
constexpr std::size_t kMaxCachedWordBytes = 256;

struct Symbol {
  std::int32_t id;
  std::int32_t prev;  // index of the previous live symbol, -1 at the start
  std::int32_t next;  // index of the next live symbol, -1 at the end
  std::int32_t len;   // bytes covered; 0 once merged into its left neighbour
};

struct Candidate {
  std::int32_t rank;
  std::int32_t pos;  // index of the left symbol
  std::int32_t result;
  // Min-heap order: lowest rank, then leftmost (HF `Merge`'s Ord).
  bool operator<(const Candidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

BpeModel::BpeModel(std::vector<std::pair<std::string, std::int32_t>> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options, const std::string& where)
    : options_(std::move(options)) {
  std::int32_t max_id = -1;
  vocab_.reserve(vocab.size());
  for (auto& [token, id] : vocab) {
    DUOGEN_CHECK(id >= 0, FormatError, "{}: vocab token {:?} has negative id {}", where, token, id);
    max_id = std::max(max_id, id);
    vocab_.emplace(std::move(token), id);
  }
  id_to_token_.assign(static_cast<std::size_t>(max_id + 1), nullptr);
  for (const auto& [token, id] : vocab_) id_to_token_[static_cast<std::size_t>(id)] = &token;

  for (int b = 0; b < 256; ++b) {
    const auto it = vocab_.find(byte_level_.encode_byte(static_cast<std::uint8_t>(b)));
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }

  merges_.reserve(merges.size());
  std::string joined;  // reused: one allocation instead of one per merge
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    joined.assign(left).append(right);
    const auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(joined);
    DUOGEN_CHECK(l != vocab_.end() && r != vocab_.end(), FormatError,
                 "{}: merge {} ({:?} {:?}) uses a token that is not in the vocab", where, rank,
                 left, right);
    DUOGEN_CHECK(m != vocab_.end(), FormatError,
                 "{}: merge {} ({:?} {:?}) makes {:?}, which is not in the vocab", where, rank,
                 left, right, left + right);
    merges_.insert(l->second, r->second, {static_cast<std::int32_t>(rank), m->second});
  }
  if (options_.unk_token) {
    const auto it = vocab_.find(*options_.unk_token);
    DUOGEN_CHECK(it != vocab_.end(), FormatError, "{}: unk_token {:?} is not in the vocab", where,
                 *options_.unk_token);
    unk_id_ = it->second;
  }
}

std::optional<std::int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size()) return nullptr;
  return id_to_token_[static_cast<std::size_t>(id)];
}

void BpeModel::encode_words(const std::vector<std::string_view>& words,
                            std::vector<std::int32_t>& out) const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  for (const std::string_view word : words) {
    if (word.size() == 1 && byte_ids_[static_cast<std::uint8_t>(word[0])] >= 0) {
      out.push_back(byte_ids_[static_cast<std::uint8_t>(word[0])]);
      continue;
    }
    if (const auto hit = cache_.find(word); hit != cache_.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      continue;
    }
    const std::size_t first = out.size();
    merge_word(word, out);
    if (word.size() <= kMaxCachedWordBytes && cache_.size() < options_.cache_capacity) {
      cache_.emplace(std::string(word), std::vector<std::int32_t>(out.begin() + first, out.end()));
    }
  }
}

void BpeModel::merge_word(std::string_view bytes, std::vector<std::int32_t>& out) const {
  if (options_.ignore_merges) {
    if (const auto it = vocab_.find(byte_level_.encode(bytes)); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(bytes.size());
  bool previous_unknown = false;
  for (const char c : bytes) {
    std::int32_t id = byte_ids_[static_cast<std::uint8_t>(c)];
    if (id < 0) {
      // Without an unk token HF drops the character; with fuse_unk a run becomes one token.
      if (!unk_id_) continue;
      if (options_.fuse_unk && previous_unknown) {
        symbols.back().len += 1;
        continue;
      }
      id = *unk_id_;
      previous_unknown = true;
    } else {
      previous_unknown = false;
    }
    const auto index = static_cast<std::int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1, 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Candidate> queue;
  auto consider = [&](std::int32_t pos) {
    const std::int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const Merge* m = merges_.find(symbols[pos].id, symbols[next].id)) {
      queue.push({m->rank, pos, m->result});
    }
  };
  for (std::int32_t i = 0; i + 1 < static_cast<std::int32_t>(symbols.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const Merge* m = merges_.find(left.id, right.id);
    if (m == nullptr || m->result != top.result) continue;  // stale: a neighbour changed
    left.id = top.result;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace duogen::tokenizer
