#include "pattern.hpp"

#include <re2/re2.h>

namespace expbridge {

CompiledPattern::CompiledPattern(std::string pattern, std::unique_ptr<re2::RE2> re)
    : pattern_(std::move(pattern)), re_(std::move(re)) {}

CompiledPattern::~CompiledPattern() = default;

Result<std::shared_ptr<const CompiledPattern>> CompiledPattern::compile(std::string_view pattern) {
  re2::RE2::Options options;
  options.set_log_errors(false);  // the error is returned, not printed to stderr
  auto re = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) return std::unexpected(make_error(ErrorCode::invalid_input, "does not compile: " + re->error()));
  return std::shared_ptr<const CompiledPattern>(new CompiledPattern(std::string(pattern), std::move(re)));
}

bool CompiledPattern::full_match(std::string_view text) const {
  return re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

}  // namespace expbridge
