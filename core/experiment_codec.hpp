// The read model (`Experiment`) written out: as the neutral members of an update document
// (what `get --format json` shows under `state`), as an update document that recreates it
// (`get --format yaml`), and YAML text for people.
#pragma once

#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <vector>

#include "expbridge/model.hpp"

namespace expbridge {

/// The neutral fields `experiment` holds, with the update document's names and units
/// (`exposure` in percent, `variations[].weight` in percent, `overrides` as a mapping,
/// `audience: {rule, description}`, `result: {winner, summary, ...}`). Fields it does not
/// hold are absent; `experiment`, `status` and `vendor_ids` are not included.
/// `not_expressible` (a read's): with `variations.weight` in it, the backend holds no weights
/// (Evidently's feature without an experiment), so none is written.
boost::json::object experiment_state_json(const Experiment& experiment,
                                          const std::vector<std::string>& not_expressible = {});

/// An update document that brings a new experiment to what `experiment` holds: its key, its
/// fields, and the action its status implies (running → `start`, paused → `pause`, stopped →
/// `stop` with its result, archived → `archive`; draft → none). `parse_update` reads it back.
/// Without weights (`variations.weight` in `not_expressible`) the variations are left out:
/// a variation set without weights is no update.
boost::json::object experiment_update_document(const Experiment& experiment,
                                               const std::vector<std::string>& not_expressible = {});

/// YAML text for a JSON value, in block style: strings double-quoted (JSON escapes are YAML
/// escapes too), numbers and booleans bare, members in their order. The YAML reader reads it
/// back to the same value.
std::string write_yaml(const boost::json::value& value);

}  // namespace expbridge
