// Reading a vendor's own YAML, whose local tags carry meaning (CloudFormation's `!Ref Name`).
#pragma once

#include <string>
#include <string_view>

#include "document.hpp"

namespace expbridge {

/// `parse_document`, except that a YAML node with a local tag (`!Ref Name`, `!GetAtt [A, Arn]`)
/// is read as a mapping of one member, the tag to the node (`{"!Ref": "Name"}`); a tagged scalar
/// is a string. Other unknown tags are still refused, and every limit holds. expbridge's own
/// documents use no tags and are read with `parse_document`.
Result<Document> parse_tagged_document(std::string_view text, std::string source);

}  // namespace expbridge
