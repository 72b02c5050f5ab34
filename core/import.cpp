// The import API: a vendor's importer found by name, and the import folder it leaves for people and
// for `migrate --from DIR`.
#include <filesystem>
#include <fstream>
#include <functional>
#include <string_view>
#include <system_error>

#include <boost/json/object.hpp>

#include "experiment_codec.hpp"
#include "expbridge/bridge.hpp"
#include "expbridge/import.hpp"
#include "json_writer.hpp"
#include "loss_report_writer.hpp"

namespace expbridge {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBindings = "bindings.yaml";
constexpr const char* kLossJson = "loss-report.json";
constexpr const char* kLossText = "loss-report.txt";

Error folder_error(const fs::path& where, std::string message) {
  Error e = make_error(ErrorCode::invalid_input, std::move(message));
  e.file = where.string();
  return e;
}

bool is_ours(const fs::directory_entry& entry) {
  const std::string name = entry.path().filename().string();
  return entry.is_regular_file() && (entry.path().extension() == ".yaml" || name == kLossJson || name == kLossText);
}

/// Empty, or an earlier import whose files may all be replaced; what else it holds is refused.
Status check_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  if (!fs::is_directory(dir, ec)) return std::unexpected(folder_error(dir, "is not a folder"));
  bool empty = true;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    empty = false;
    if (!is_ours(entry))
      return std::unexpected(folder_error(
          dir, "is not empty and not an earlier import folder: " + entry.path().filename().string() +
                   " is not a file import writes (*.yaml, loss-report.json, loss-report.txt); nothing was written"));
  }
  if (ec) return std::unexpected(folder_error(dir, "cannot be listed: " + ec.message()));
  if (!empty && (!fs::exists(dir / kBindings) || !fs::exists(dir / kLossJson)))
    return std::unexpected(folder_error(
        dir, std::string("is not empty and not an earlier import folder (it lacks ") + kBindings + " or " + kLossJson +
                 "); nothing was written"));
  return {};
}

Status write_stream(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  write(out);
  out.close();
  if (!out) return std::unexpected(folder_error(path, "cannot be written"));
  return {};
}

Status write_file(const fs::path& path, const std::string& text) {
  return write_stream(path, [&](std::ostream& out) { out << text; });
}

/// Each key becomes `<key>.yaml`: it must stay a file of this folder and not be `bindings.yaml`.
Status check_keys(const fs::path& dir, const ImportResult& result) {
  for (const auto& imported : result.experiments) {
    const std::string& key = imported.key;
    if (key.empty() || key == "." || key == ".." || key == "bindings" ||
        key.find_first_of("/\\") != std::string::npos || key.find('\0') != std::string::npos)
      return std::unexpected(folder_error(dir, "cannot hold experiment '" + key +
                                                   "' as a file of its own (an empty key, '.', '..', 'bindings' or a "
                                                   "key with a path separator); nothing was written"));
  }
  return {};
}

}  // namespace

Result<ImportResult> import_vendor_files(std::string_view vendor, const std::vector<ImportFile>& files,
                                         const std::vector<VendorImporter>& importers, const Registry* registry,
                                         const std::string& mappings_dir) {
  const VendorImporter* found = nullptr;
  std::string with;
  for (const auto& i : importers) {
    if (i.vendor == vendor) found = &i;
    with += (with.empty() ? "" : ", ") + i.vendor;
  }
  if (found == nullptr)
    return std::unexpected(invalid_field("vendor", "'" + std::string(vendor) + "' has no importer; vendors with one: " +
                                                       (with.empty() ? std::string("none") : with)));
  ImportOptions options;
  EXPBRIDGE_ASSIGN_OR_RETURN(options.table, load_mapping_table(vendor, mappings_dir, registry));
  EXPBRIDGE_ASSIGN_OR_RETURN(options.rules, load_import_rules(vendor, mappings_dir, registry));
  return found->importer(files, options);
}

boost::json::object imported_update_document(const ImportedExperiment& imported) {
  Experiment e = imported.experiment;
  e.experiment = imported.key;
  return experiment_update_document(e);
}

Status write_import_folder(const std::string& dir_name, const ImportResult& result) {
  const fs::path dir(dir_name);
  EXPBRIDGE_RETURN_IF_ERROR(check_folder(dir));
  EXPBRIDGE_RETURN_IF_ERROR(check_keys(dir, result));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(folder_error(dir, "cannot be created: " + ec.message()));
  // An earlier import's documents go first, so none of its experiments outlives it.
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (is_ours(entry)) fs::remove(entry.path(), ec);

  for (const auto& imported : result.experiments) {
    const std::string text = "# " + imported.key + ", imported: see loss-report.txt for what was converted or lost\n" +
                             write_yaml(imported_update_document(imported));
    EXPBRIDGE_RETURN_IF_ERROR(write_file(dir / (imported.key + ".yaml"), text));
  }
  // The folder's other files are written an entry at a time: at 10,000 experiments each is
  // megabytes, and the loss report tens of them, as one string.
  EXPBRIDGE_RETURN_IF_ERROR(write_stream(dir / kBindings, [&](std::ostream& out) {
    // One entry per experiment, as `experiments:` of one mapping would be written (and as
    // `migrate` reads it an entry at a time).
    out << "# Where each experiment came from, and the partial binding a target's create starts from.\n";
    if (result.experiments.empty()) {
      out << write_yaml(boost::json::object{{"experiments", boost::json::object{}}});
      return;
    }
    out << "experiments:\n";
    for (const auto& imported : result.experiments) {
      const std::string entry = write_yaml(boost::json::object{
          {imported.key, boost::json::object{{"source", imported.source}, {"create", imported.create}}}});
      std::size_t start = 0;
      while (start < entry.size()) {
        const std::size_t end = entry.find('\n', start);
        const std::size_t stop = end == std::string::npos ? entry.size() : end + 1;
        out << "  " << std::string_view(entry).substr(start, stop - start);
        start = stop;
      }
    }
  }));
  EXPBRIDGE_RETURN_IF_ERROR(
      write_stream(dir / kLossJson, [&](std::ostream& out) { write_loss_report_json(out, result.losses); }));
  return write_stream(dir / kLossText, [&](std::ostream& out) { write_loss_report_text(out, result.losses); });
}

}  // namespace expbridge
