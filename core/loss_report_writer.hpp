// The loss report (migration.hpp) written to a stream an entry at a time: at 10,000 experiments
// it is tens of megabytes as one string or one JSON value.
#pragma once

#include <ostream>

#include "expbridge/migration.hpp"

namespace expbridge {

/// `loss_report_to_json`'s document, one entry a line.
void write_loss_report_json(std::ostream& out, const LossReport& report);
/// `loss_report_to_text`'s text.
void write_loss_report_text(std::ostream& out, const LossReport& report);

}  // namespace expbridge
