// JSON text helpers for the JSON lines that logs and CLI output print.
#ifndef EPROP_CORE_UTIL_JSON_H_
#define EPROP_CORE_UTIL_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace eprop {

// `text` as a JSON string literal, quotes included (control characters
// escaped; bytes >= 0x80 passed through, so UTF-8 stays UTF-8).
std::string JsonQuote(absl::string_view text);

}  // namespace eprop

#endif  // EPROP_CORE_UTIL_JSON_H_
