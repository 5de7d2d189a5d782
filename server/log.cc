#include "server/log.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace eprop::server {

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields) {
  static const char* const kLevels[] = {"info", "warning", "error"};
  std::string line =
      absl::StrCat("{\"time\":\"",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
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
