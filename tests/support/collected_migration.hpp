// A migration's streamed entries kept whole, for tests that look at every entry of a small run
// (the product streams them and keeps only the summary).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "expbridge/migrate.hpp"

namespace expbridge::test {

struct CollectedMigration {
  MigrationReport report;
  std::vector<ExperimentMigration> experiments;  ///< every entry, in the order the sink got them
  LossReport losses;                             ///< every entry's, in that order
  bool ok() const { return report.ok(); }
  std::vector<std::pair<std::string, boost::json::object>> created_bindings(std::string_view backend = "dst") const {
    return report.created_bindings(backend);
  }
  /// The text `expbridge migrate` prints: heading, each entry, summary.
  std::string text() const {
    std::string out = migration_heading_text(report);
    SkipReasonIndex reasons;
    for (const auto& e : experiments) out += migration_entry_to_text(e, report.applied, &reasons);
    return out + migration_summary_text(report);
  }
  /// The entries and the summary as JSON, for failure messages.
  std::string dump() const {
    boost::json::array entries;
    for (const auto& e : experiments) entries.push_back(migration_entry_to_json(e));
    return boost::json::serialize(boost::json::object{{"experiments", std::move(entries)},
                                                      {"summary", migration_summary_to_json(report)}});
  }
};

/// Runs `migrate` keeping every entry (and the created bindings) it streams.
inline Result<CollectedMigration> migrate_collected(const Bridge& bridge, MigrateOptions options) {
  CollectedMigration out;
  options.keep_created_bindings = true;
  auto caller_sink = std::move(options.sink);
  options.sink = [&out, &caller_sink](ExperimentMigration entry, const MigrationReport& so_far) {
    for (const auto& f : entry.losses.fields) out.losses.fields.push_back(f);
    if (caller_sink) caller_sink(entry, so_far);
    out.experiments.push_back(std::move(entry));
  };
  auto report = migrate(bridge, options);
  if (!report) return std::unexpected(std::move(report).error());
  out.report = std::move(*report);
  return out;
}

}  // namespace expbridge::test
