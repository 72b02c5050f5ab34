// Reading an import folder (what `expbridge import` writes) as the source of a migration.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "document.hpp"
#include "filtered_json.hpp"
#include "expbridge/migrate.hpp"
#include "expbridge/update.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// Every member of `o` (at `path` in `doc`) is one of `known`: a member nobody reads is an error.
Status only_members(const Document& doc, const boost::json::object& o, const std::string& path,
                    std::initializer_list<std::string_view> known) {
  for (const auto& member : o)
    if (std::find(known.begin(), known.end(), member.key()) == known.end())
      return std::unexpected(doc.error_at(join_path(path, member.key()), "is not a member expbridge knows here"));
  return {};
}

Result<const boost::json::object*> object_at(const Document& doc, const boost::json::value& v, const std::string& path) {
  if (!v.is_object()) return std::unexpected(doc.error_at(path, "must be a mapping"));
  return &v.get_object();
}

// The experiments whose entries are kept: `first` to `last`, by key.
struct KeyRange {
  std::string_view first, last;
  bool holds(std::string_view key) const { return key >= first && key <= last; }
};

// One experiment's entry of `bindings.yaml` (`doc` holds it at `<parent>.<key>`); its `create`
// is kept when `keep` holds the key.
Status read_binding_entry(const Document& doc, const std::string& parent, const std::string& key,
                          const json::value& entry, const std::string& dir, const std::vector<std::string>& keys,
                          KeyRange keep, std::map<std::string, boost::json::object, std::less<>>& creates) {
  const std::string path = join_path(parent, key);
  auto one = object_at(doc, entry, path);
  if (!one) return std::unexpected(std::move(one).error());
  EXPBRIDGE_RETURN_IF_ERROR(only_members(doc, **one, path, {"source", "create"}));
  if (const auto* source = (*one)->if_contains("source"); source && !source->is_object())
    return std::unexpected(doc.error_at(join_path(path, "source"), "must be a mapping"));
  if (!std::binary_search(keys.begin(), keys.end(), key))
    return std::unexpected(doc.error_at(path, "names an experiment with no document " + key + ".yaml in " + dir));
  if (const auto* create = (*one)->if_contains("create")) {
    auto members = object_at(doc, *create, join_path(path, "create"));
    if (!members) return std::unexpected(std::move(members).error());
    if (keep.holds(key)) creates.insert_or_assign(key, **members);
  }
  return {};
}

Status read_bindings_whole(const std::string& file, const std::string& dir, const std::vector<std::string>& keys,
                           KeyRange keep, std::map<std::string, boost::json::object, std::less<>>& creates) {
  auto doc = load_document(file);
  if (!doc) return std::unexpected(std::move(doc).error());
  auto root = object_at(*doc, doc->root, "");
  if (!root) return std::unexpected(std::move(root).error());
  EXPBRIDGE_RETURN_IF_ERROR(only_members(*doc, **root, "", {"experiments"}));
  const auto* experiments = (*root)->if_contains("experiments");
  if (!experiments) return {};
  auto all = object_at(*doc, *experiments, "experiments");
  if (!all) return std::unexpected(std::move(all).error());
  for (const auto& [key, entry] : **all)
    EXPBRIDGE_RETURN_IF_ERROR(read_binding_entry(*doc, "experiments", std::string(key), entry, dir, keys, keep, creates));
  return {};
}

std::size_t indentation(std::string_view line) { return line.find_first_not_of(' '); }

bool blank_or_comment(std::string_view line) {
  const auto at = indentation(line);
  return at == std::string_view::npos || line[at] == '#' || line[at] == '\r';
}

// `bindings.yaml` as `expbridge import` writes it (`experiments:` alone on its line, then one
// block-mapping entry per experiment at one indentation) is read an entry at a time: each entry
// is parsed on its own, as YAML, its errors given the file's line numbers, so memory holds one entry and the
// `create` members, never the parse of the whole file (at 10,000 experiments that parse was most
// of what a migration held). Any other layout is parsed whole, within the document limits.
// With `check_all` false (the entries were checked when the folder was opened), an entry whose
// key its first line shows outside `keep` is not parsed.
Status read_bindings(const std::string& file, const std::string& dir, const std::vector<std::string>& keys,
                     KeyRange keep, bool check_all, std::map<std::string, boost::json::object, std::less<>>& creates) {
  // Another layout: what was read an entry at a time is read again, whole.
  auto whole = [&] {
    creates.clear();
    return read_bindings_whole(file, dir, keys, keep, creates);
  };
  std::ifstream in(file, std::ios::binary);
  if (!in) return whole();  // it says why
  constexpr std::size_t kMaxLine = 1 << 20;
  std::string line, entry;
  std::size_t line_number = 0, entry_line = 0, indent = std::string::npos;
  bool in_experiments = false, skipping = false;
  std::set<std::string, std::less<>> seen;
  auto parse_entry = [&]() -> Status {
    if (entry.empty()) return {};
    // Parsed on its own; an error's line is then moved to where the entry is in the file.
    auto in_file = [&](Error e) {
      if (e.line > 0) e.line += static_cast<int>(entry_line - 1);
      return std::unexpected(std::move(e));
    };
    auto doc = parse_document(entry, file);
    entry.clear();
    if (!doc) return in_file(std::move(doc).error());
    const auto* root = doc->root.if_object();
    if (!root || root->size() != 1) return in_file(doc->error_at("", "must be a mapping"));
    const std::string key(root->begin()->key());
    if (!seen.insert(key).second) return in_file(doc->error_at(key, "is given twice under experiments"));
    // The entry's document holds it at `<key>`; its errors name `experiments.<key>...`.
    auto done = read_binding_entry(*doc, "", key, root->begin()->value(), dir, keys, keep, creates);
    if (!done) {
      Error e = std::move(done).error();
      e.field = join_path("experiments", e.field);
      return in_file(std::move(e));
    }
    return {};
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (line.size() > kMaxLine) return whole();
    if (!in_experiments) {
      if (blank_or_comment(line)) continue;
      const std::string_view text(line);
      if (text.starts_with("experiments:") && blank_or_comment(text.substr(12))) {
        in_experiments = true;
        continue;
      }
      return whole();
    }
    if (blank_or_comment(line)) {
      if (!entry.empty()) entry += line + "\n";
      continue;
    }
    const std::size_t at = indentation(line);
    if (indent == std::string::npos) {
      if (at == 0) return whole();
      indent = at;
    }
    if (at < indent) return whole();  // another layout
    if (at == indent) {
      EXPBRIDGE_RETURN_IF_ERROR(parse_entry());
      entry_line = line_number;
      skipping = false;
      if (!check_all) {
        // `  <plain key>:` alone on its line: the key is known without parsing the entry.
        const std::string_view head = std::string_view(line).substr(at);
        const auto colon = head.find(':');
        const std::string_view key = head.substr(0, colon);
        if (colon != std::string_view::npos && blank_or_comment(head.substr(colon + 1)) &&
            key.find_first_of("'\"{}[],&*!|>%@`#? ") == std::string_view::npos)
          skipping = !keep.holds(key);
      }
    }
    if (skipping) continue;
    entry += line + "\n";
    if (entry.size() > kMaxDocumentBytes) return whole();  // refused there, as any document this large
  }
  return parse_entry();
}

// One entry of the loss report's `fields`, or why it is not one (the member at fault, relative
// to the entry, and the rule).
struct LossEntryError {
  std::string member;
  std::string message;
};

std::optional<LossEntryError> read_loss_entry(const json::value& entry, FieldCarriage& f) {
  if (!entry.is_object()) return LossEntryError{"", "must be a mapping"};
  static constexpr std::string_view kMembers[] = {"experiment", "field", "carriage", "rule",
                                                  "from",       "to",    "reason",   "source"};
  bool carriage = false;
  for (const auto& [name, value] : entry.get_object()) {
    if (std::find(std::begin(kMembers), std::end(kMembers), name) == std::end(kMembers))
      return LossEntryError{std::string(name), "unknown member"};
    if (!value.is_string()) return LossEntryError{std::string(name), "must be a string"};
    const std::string text(value.get_string());
    if (name == "experiment") f.experiment = text;
    else if (name == "field") f.field = text;
    else if (name == "rule") f.rule = text;
    else if (name == "from") f.from = text;
    else if (name == "to") f.to = text;
    else if (name == "reason") f.reason = text;
    else if (name == "source") f.source = text;
    else if (text == "carried" || text == "converted" || text == "lost") {
      f.carriage = text == "carried" ? Carriage::carried : text == "converted" ? Carriage::converted : Carriage::lost;
      carriage = true;
    } else {
      return LossEntryError{std::string(name), "is carried, converted or lost"};
    }
  }
  if (f.experiment.empty() || f.field.empty() || !carriage) return LossEntryError{"", "needs experiment, field and carriage"};
  return std::nullopt;
}

// The report is read an entry at a time (at 10,000 experiments it is larger than any document
// expbridge holds whole): each good entry goes to `losses` and is not kept; a bad one is kept, so
// that the error can name its line and column.
// Only the entries of experiments between `first` and `last` (inclusive) are put in `losses`;
// every entry is checked.
Status read_losses(const std::string& file, std::string_view first, std::string_view last,
                   std::map<std::string, std::vector<FieldCarriage>, std::less<>>& losses) {
  std::size_t index = 0, first_bad = 0;
  std::optional<LossEntryError> bad;
  auto doc = load_filtered_json(file, [&](std::string_view member, const json::value& entry) {
    if (member != "fields" || bad) return false;
    FieldCarriage f;
    bad = read_loss_entry(entry, f);
    if (bad) {
      first_bad = index;
      return true;
    }
    ++index;
    if (f.experiment >= first && f.experiment <= last) losses[f.experiment].push_back(std::move(f));
    return false;
  });
  if (!doc) return std::unexpected(std::move(doc).error());
  auto root = object_at(*doc, doc->root, "");
  if (!root) return std::unexpected(std::move(root).error());
  EXPBRIDGE_RETURN_IF_ERROR(only_members(*doc, **root, "", {"fields"}));
  const auto* fields = (*root)->if_contains("fields");
  if (fields && !fields->is_array()) return std::unexpected(doc->error_at("fields", "must be a list"));
  if (bad) {
    // The kept entry is the first of the kept list: its marks are the file's.
    Error e = doc->error_at(bad->member.empty() ? index_path("fields", 0) : join_path(index_path("fields", 0), bad->member),
                            bad->message);
    e.field = bad->member.empty() ? index_path("fields", first_bad) : join_path(index_path("fields", first_bad), bad->member);
    return std::unexpected(std::move(e));
  }
  return {};
}

}  // namespace

bool ImportFolder::contains(std::string_view key) const {
  return std::binary_search(keys_.begin(), keys_.end(), key, std::less<>{});
}

Result<FolderExperiment> ImportFolder::load(const std::string& key) const {
  const fs::path path = fs::path(dir_) / (key + ".yaml");
  auto update = load_update(path.string());
  if (!update) return std::unexpected(std::move(update).error());
  if (update->experiment != key) {
    Error e = invalid_field("experiment", "is " + update->experiment + " in a file named " +
                                              path.filename().string() + ": an import folder holds <key>.yaml");
    e.file = path.string();
    return std::unexpected(std::move(e));
  }
  FolderExperiment imported;
  imported.file = path.string();
  imported.state = state_from_update(*update);
  imported.update = std::move(*update);
  const auto at = std::lower_bound(keys_.begin(), keys_.end(), key);
  const auto index = static_cast<std::size_t>(at - keys_.begin());
  // Forwards (the order a migration of the whole folder goes in) the window starts at the key;
  // backwards it ends there.
  if (index >= window_end_) EXPBRIDGE_RETURN_IF_ERROR(read_window(index, false));
  if (index < window_begin_) EXPBRIDGE_RETURN_IF_ERROR(read_window(index + 1 >= kWindow ? index + 1 - kWindow : 0, false));
  if (auto create = creates_.find(key); create != creates_.end()) imported.create = create->second;
  if (auto losses = losses_.find(key); losses != losses_.end()) imported.losses = losses->second;
  return imported;
}

Status ImportFolder::read_window(std::size_t begin, bool check_all) const {
  creates_.clear();
  losses_.clear();
  window_begin_ = window_end_ = 0;
  // No documents: the files are still checked, and nothing kept (no experiment has an empty key).
  KeyRange keep{"", ""};
  std::size_t end = begin;
  if (begin < keys_.size()) {
    end = std::min(keys_.size(), begin + kWindow);
    keep = KeyRange{keys_[begin], keys_[end - 1]};
  }
  if (!bindings_.empty()) EXPBRIDGE_RETURN_IF_ERROR(read_bindings(bindings_, dir_, keys_, keep, check_all, creates_));
  if (!loss_report_.empty()) EXPBRIDGE_RETURN_IF_ERROR(read_losses(loss_report_, keep.first, keep.last, losses_));
  window_begin_ = begin;
  window_end_ = end;
  return {};
}

Result<ImportFolder> open_import_folder(const std::string& dir) {
  ImportFolder folder;
  folder.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    Error e = make_error(ErrorCode::invalid_input, "is not a folder");
    e.file = dir;
    return std::unexpected(std::move(e));
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".yaml" && it->path().filename() != "bindings.yaml")
      folder.keys_.push_back(it->path().stem().string());
  if (ec) {
    Error e = make_error(ErrorCode::invalid_input, "cannot list the folder: " + ec.message());
    e.file = dir;
    return std::unexpected(std::move(e));
  }
  std::sort(folder.keys_.begin(), folder.keys_.end());
  if (const auto bindings = fs::path(dir) / "bindings.yaml"; fs::exists(bindings, ec))
    folder.bindings_ = bindings.string();
  if (const auto losses = fs::path(dir) / "loss-report.json"; fs::exists(losses, ec))
    folder.loss_report_ = losses.string();
  // Every entry of both files is checked now, before anything is sent; the first window is kept.
  EXPBRIDGE_RETURN_IF_ERROR(folder.read_window(0, true));
  return folder;
}

}  // namespace expbridge
