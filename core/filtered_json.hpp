// Reading a JSON file larger than any document expbridge holds, keeping only what is wanted of it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "document.hpp"

namespace expbridge {

/// Which items of a top-level array are kept: `member` names the array (`resources`).
using KeepItem = std::function<bool(std::string_view member, const boost::json::value& item)>;

/// Reads the JSON object in `path` a chunk at a time (a Terraform state of many thousand
/// resources, most of no interest): each member of the root object is read on its own, and each
/// item of a member that is an array is read on its own and kept only when `keep` accepts it, so
/// memory holds one item and what is kept, never the file. Each item and each other member is
/// read as `parse_document` reads JSON, within its limits; what is kept is limited to
/// `kMaxDocumentBytes` in all. The marks, and the positions of errors, are those of the file
/// (paths count kept items only). Malformed or truncated JSON, a root that is not an object and
/// a duplicate member are invalid_input errors naming file, line and column.
Result<Document> load_filtered_json(const std::string& path, const KeepItem& keep);

}  // namespace expbridge
