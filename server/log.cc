#include "server/log.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace eprop::server {

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields) {
  static const char* const kLevels[] = {"info", "warning", "error"};
  std::string line = absl::StrCat(
      "{\"time\":\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", kLevels[static_cast<int>(level)],
      "\",\"event\":", JsonQuote(event));
  for (const LogField& field : fields) {
    absl::StrAppend(&line, ",", JsonQuote(field.first), ":",
                    JsonQuote(field.second));
  }
  line += "}\n";
  static absl::Mutex mu;
  absl::MutexLock lock(&mu);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace eprop::server
