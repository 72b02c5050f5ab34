// The neutral fields an update sets, and field paths under one another: what the adapter base
// checks plans and creates with, and what migrate reports losses by.
#pragma once

#include <string_view>
#include <vector>

#include "expbridge/model.hpp"

namespace expbridge {

/// The neutral fields `update` sets, in `field::` names and schema order (the pass-through block
/// excluded: the adapter base reads it for the adapter).
std::vector<std::string_view> present_fields(const Update& update);

/// `path` is `field` or a path under it: `variations[1].weight` and `action.pause` are under
/// `variations` and `action`.
bool path_is_under(std::string_view path, std::string_view field);

}  // namespace expbridge
