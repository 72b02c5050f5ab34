// expbridge — moving experiments between vendors: what each field becomes on the way (the loss
// report), shared by `import` (a vendor's saved files → neutral documents) and `migrate`
// (neutral state → another vendor).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace expbridge {

/// What became of one field on the way.
enum class Carriage {
  carried,    ///< the same value, in the same unit
  converted,  ///< a value changed by a rule of a mapping table (a unit, a type, an enum)
  lost,       ///< nothing at the other side can hold it
};

/// `carried`, `converted`, `lost`.
std::string_view to_string(Carriage carriage) noexcept;

/// One line of a loss report: one field of one experiment.
struct FieldCarriage {
  std::string experiment;  ///< the neutral key
  /// A neutral field path (`exposure`, `variations[1].weight`, `audience.rule`) or, for what
  /// the neutral model has no field for, the source's own name prefixed by its vendor
  /// (`evidently.launch`, `evidently.metricGoals`).
  std::string field;
  Carriage carriage = Carriage::carried;
  /// converted: the mapping-table rule applied, `<vendor>.<rule>` (e.g.
  /// `evidently.weights_thousandths`); lost: the table entry giving the reason, when one does.
  std::string rule;
  std::string from;    ///< converted: the value before, in the source's unit (`33334/33333/33333 thousandths`)
  std::string to;      ///< converted: the value after (`33.334/33.333/33.333 %`)
  std::string reason;  ///< lost: why, in the table's words
  std::string source;  ///< where the value came from: `file:line`, or `backend <name>`
};

/// What became of every field of the experiments of one import or migration, in the order the
/// fields were looked at.
struct LossReport {
  std::vector<FieldCarriage> fields;

  /// The `lost` fields of `experiment`, in report order, each once.
  std::vector<std::string> lost_fields(std::string_view experiment) const;
  /// The lost fields of `experiment` that `accepted` does not name: what makes `migrate --apply`
  /// refuse the experiment (fail closed). A name accepts the field it names and every path under
  /// it: `variations` accepts `variations[1].description`, `audience` accepts `audience.rule`,
  /// `evidently.launch` accepts `evidently.launch.groups`.
  std::vector<std::string> unaccepted_losses(std::string_view experiment,
                                             const std::vector<std::string>& accepted) const;
  /// True when any field of any experiment is lost.
  bool has_losses() const;
};

/// `{"fields": [{"experiment", "field", "carriage", "rule"?, "from"?, "to"?, "reason"?, "source"?}]}`,
/// empty members left out.
boost::json::value loss_report_to_json(const LossReport& report);

/// One block per experiment, one line per field that was converted or lost (carried fields are
/// counted, not listed): `  converted  variations[0].weight  33334 thousandths → 33.334 %
/// (evidently.weights_thousandths)`.
std::string loss_report_to_text(const LossReport& report);

}  // namespace expbridge
