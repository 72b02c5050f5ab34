#include "pattern.hpp"

#include <re2/re2.h>

namespace expbridge {
namespace {

std::unique_ptr<re2::RE2> compile_re2(std::string_view pattern) {
  re2::RE2::Options options;
  options.set_log_errors(false);  // the error is returned, not printed to stderr
  return std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
}

}  // namespace

CompiledPattern::CompiledPattern(std::string pattern) : pattern_(std::move(pattern)) {}

CompiledPattern::~CompiledPattern() = default;

Result<std::shared_ptr<const CompiledPattern>> CompiledPattern::compile(std::string_view pattern) {
  auto re = compile_re2(pattern);
  if (!re->ok()) return std::unexpected(make_error(ErrorCode::invalid_input, "does not compile: " + re->error()));
  std::shared_ptr<CompiledPattern> out(new CompiledPattern(std::string(pattern)));
  std::call_once(out->once_, [&] { out->re_ = std::move(re); });
  return std::shared_ptr<const CompiledPattern>(std::move(out));
}

std::shared_ptr<const CompiledPattern> CompiledPattern::deferred(std::string pattern) {
  return std::shared_ptr<const CompiledPattern>(new CompiledPattern(std::move(pattern)));
}

const re2::RE2* CompiledPattern::compiled() const {
  std::call_once(once_, [this] { re_ = compile_re2(pattern_); });
  return re_->ok() ? re_.get() : nullptr;
}

bool CompiledPattern::full_match(std::string_view text) const {
  const re2::RE2* re = compiled();
  return re != nullptr && re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re);
}

}  // namespace expbridge
