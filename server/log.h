// Structured logs: one JSON object per line on stderr, e.g.
//   {"time":"2026-11-29T12:00:00.123Z","level":"info","event":"job_started",
//    "job_id":"job-000001"}
// Thread-safe. Callers must never pass secrets (tokens) as fields.
#ifndef EPROP_SERVER_LOG_H_
#define EPROP_SERVER_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "core/util/json.h"

namespace eprop::server {

enum class LogLevel { kInfo, kWarning, kError };

using LogField = std::pair<absl::string_view, std::string>;

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields = {});

}  // namespace eprop::server

#endif  // EPROP_SERVER_LOG_H_
