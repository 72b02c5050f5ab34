// A vendor limit's regular expression, matched in time linear in the value (RE2): a hostile
// value can neither hang nor overflow the stack, as std::regex's backtracking did on
// `^[a-z]{2}(-[a-z]+)+-[0-9]+$` against a 200 KB region.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "expbridge/error.hpp"

namespace re2 {
class RE2;
}  // namespace re2

namespace expbridge {

/// A compiled RE2 pattern (https://github.com/google/re2/wiki/Syntax: no backreferences, no
/// lookaround). The text is matched as UTF-8.
class CompiledPattern {
 public:
  /// Compiles `pattern`, or says why it does not compile.
  static Result<std::shared_ptr<const CompiledPattern>> compile(std::string_view pattern);
  /// A pattern compiled on its first match (thread-safe), for patterns checked when the build
  /// embedded them: start-up does not pay for patterns a run never uses. Should it not compile
  /// after all, nothing matches it (a value is refused, never let through).
  static std::shared_ptr<const CompiledPattern> deferred(std::string pattern);

  /// Whether the whole of `text` matches.
  bool full_match(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

  ~CompiledPattern();
  CompiledPattern(const CompiledPattern&) = delete;
  CompiledPattern& operator=(const CompiledPattern&) = delete;

 private:
  explicit CompiledPattern(std::string pattern);
  const re2::RE2* compiled() const;

  std::string pattern_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<re2::RE2> re_;
};

}  // namespace expbridge
