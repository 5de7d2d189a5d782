#include "client/cli/server_commands.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/command_line.h"
#include "client/cli/metrics_format.h"

namespace eprop::cli {
namespace {

// grpc.health.v1.HealthCheckResponse.ServingStatus names.
std::string ServingStatusName(int status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return absl::StrFormat("STATUS_%d", status);
  }
}

std::string ServerInfoTable(const v1::ServerInfo& info) {
  const std::pair<const char*, std::string> lines[] = {
      {"version", info.version()},
      {"workers", absl::StrCat(info.workers())},
      {"max queued jobs", absl::StrCat(info.max_queued_jobs())},
      {"threads per job", absl::StrCat(info.threads_per_job())},
      {"max job memory",
       absl::StrFormat("%.2f GiB", info.max_job_memory_bytes() / 1073741824.0)},
      {"max iterations", absl::StrCat(info.max_iterations())},
      {"max neurons", absl::StrCat(info.max_neurons())},
      {"tls", info.tls() ? "yes" : "no"},
      {"auth", info.auth() ? "yes" : "no"},
      {"build options", info.build_options()},
      {"tasks", absl::StrJoin(info.tasks(), ", ")},
      {"algorithms", absl::StrJoin(info.algorithms(), ", ")},
  };
  std::string out;
  for (const auto& [key, value] : lines) {
    absl::StrAppendFormat(&out, "%-16s %s\n", key, value);
  }
  return out;
}

}  // namespace

int RunHealthCommand(const GlobalOptions& options,
                     const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec{
      "health",
      "usage: eprop health\n\n"
      "Asks the server's standard gRPC health service (grpc.health.v1) for\n"
      "its overall status; no token needed. Exits 0 when it is SERVING, 1\n"
      "otherwise or when it cannot be reached.\n",
      {},
      {}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  absl::StatusOr<int> status = connection->CheckHealth();
  if (!status.ok()) return Failure(spec->name, status.status());
  const std::string name = ServingStatusName(*status);
  if (parsed.json) {
    std::cout << "{\"server\":" << JsonQuote(connection->target())
              << ",\"status\":" << JsonQuote(name) << "}" << std::endl;
  } else {
    std::cout << "eprop-server at " << connection->target() << ": " << name
              << std::endl;
  }
  return *status == 1 ? kExitOk : kExitFailure;
}

int RunServerInfoCommand(const GlobalOptions& options,
                         const std::vector<std::string>& argv) {
  static const auto* spec = new CommandSpec{
      "server-info",
      "usage: eprop server-info\n\n"
      "Shows the server's version, limits (workers, queue, threads, memory,\n"
      "iterations, neurons), whether TLS and authentication are on, its\n"
      "build options, tasks and algorithms.\n",
      {},
      {}};
  ParsedCommand parsed = ParseCommand(*spec, options, argv);
  if (!parsed.args) return parsed.exit_code;
  std::unique_ptr<Connection> connection = ConnectOrReport(spec->name, options);
  if (connection == nullptr) return kExitFailure;
  v1::ServerInfo info;
  if (absl::Status s = connection->Call(&v1::JobService::Stub::GetServerInfo,
                                        v1::GetServerInfoRequest(), &info);
      !s.ok()) {
    return Failure(spec->name, s);
  }
  if (!parsed.json) {
    std::cout << ServerInfoTable(info) << std::flush;
    return kExitOk;
  }
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(info, &json, print).ok()) {
    return Failure(spec->name, absl::InternalError("cannot format as JSON"));
  }
  std::cout << json << std::endl;
  return kExitOk;
}

}  // namespace eprop::cli
