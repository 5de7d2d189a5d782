#include "client/cli/connection.h"

#include <grpc/support/log.h>
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <climits>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/cli/args.h"
#include "core/util/file_io.h"

namespace eprop::cli {
namespace {

constexpr char kDefaultServer[] = "127.0.0.1:50051";
constexpr char kHealthCheckMethod[] = "/grpc.health.v1.Health/Check";

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"server", false,
       "eprop-server address HOST:PORT (default: $EPROP_SERVER, else "
       "127.0.0.1:50051)",
       ""},
      {"token-file", false,
       "file holding the bearer token sent with every call", ""},
      {"tls-ca", false,
       "PEM file of the CA that signed the server's certificate (enables TLS)",
       ""},
      {"output", false, "table or json (JSON lines)", "table"},
      {"timeout-s", false,
       "deadline of each call and of connecting, in seconds", "30"},
      {"help", true, "show this help", ""},
  };
  return *flags;
}

// True for "--name" (no "=value") of a global flag that takes a value: the
// value is the next argument.
bool TakesValue(const std::string& arg) {
  if (arg.find('=') != std::string::npos) return false;
  for (const FlagSpec& spec : GlobalFlags()) {
    if (arg.substr(2) == spec.name) return !spec.boolean;
  }
  return false;
}

absl::StatusOr<GlobalOptions> ToOptions(const Args& args) {
  GlobalOptions options;
  options.server = args.GetString("server");
  if (!args.Has("server")) {
    const char* env = std::getenv("EPROP_SERVER");
    options.server = env != nullptr && *env != '\0' ? env : kDefaultServer;
  }
  if (options.server.empty()) {
    return absl::InvalidArgumentError("--server must not be empty");
  }
  options.token_file = args.GetString("token-file");
  options.tls_ca_file = args.GetString("tls-ca");
  absl::StatusOr<std::string> output =
      args.GetChoice("output", {"table", "json"});
  if (!output.ok()) return output.status();
  options.json = *output == "json";
  absl::StatusOr<int64_t> timeout = args.GetInt("timeout-s", 1, 86400);
  if (!timeout.ok()) return timeout.status();
  options.timeout_s = static_cast<int>(*timeout);
  return options;
}

// The token: the file's text without trailing whitespace; it must be
// non-empty printable ASCII (it becomes an HTTP/2 header value).
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("--token-file: ", text.status().message()));
  }
  std::string token(absl::StripTrailingAsciiWhitespace(*text));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file ", path, " is empty"));
  }
  for (const char c : token) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file ", path,
                       " holds characters other than printable "
                       "ASCII"));
    }
  }
  return token;
}

void DiscardGrpcLog(gpr_log_func_args*) {}

std::chrono::system_clock::time_point DeadlineAfter(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

// Reads a base-128 varint of `bytes` at *k, advancing *k; false when
// truncated or longer than 10 bytes.
bool ReadVarint(const std::string& bytes, size_t* k, uint64_t* value) {
  *value = 0;
  for (int shift = 0; *k < bytes.size() && shift < 64; shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(bytes[(*k)++]);
    *value |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// The ServingStatus (field 1, a varint) of a serialized
// HealthCheckResponse; 0 (UNKNOWN) when absent. Other fields are skipped.
absl::StatusOr<int> ParseServingStatus(const std::string& bytes) {
  const absl::Status malformed =
      absl::DataLossError("malformed HealthCheckResponse");
  int status = 0;
  size_t k = 0;
  while (k < bytes.size()) {
    uint64_t tag = 0, value = 0;
    if (!ReadVarint(bytes, &k, &tag)) return malformed;
    switch (tag & 7) {
      case 0:
        if (!ReadVarint(bytes, &k, &value)) return malformed;
        if ((tag >> 3) == 1) status = static_cast<int>(value);
        break;
      case 1:
        k += 8;
        break;
      case 2:
        if (!ReadVarint(bytes, &k, &value) || value > bytes.size() - k) {
          return malformed;
        }
        k += value;
        break;
      case 5:
        k += 4;
        break;
      default:
        return malformed;
    }
    if (k > bytes.size()) return malformed;
  }
  return status;
}

}  // namespace

absl::StatusOr<Invocation> ParseInvocation(
    const std::vector<std::string>& argv) {
  std::vector<std::string> global;
  size_t k = 0;
  for (; k < argv.size() && argv[k].rfind("--", 0) == 0 && argv[k] != "--";
       ++k) {
    global.push_back(argv[k]);
    if (TakesValue(argv[k]) && k + 1 < argv.size()) global.push_back(argv[++k]);
  }
  absl::StatusOr<Args> args = Args::Parse(global, GlobalFlags());
  if (!args.ok()) return args.status();
  absl::StatusOr<GlobalOptions> options = ToOptions(*args);
  if (!options.ok()) return options.status();
  Invocation invocation;
  invocation.options = *options;
  invocation.help = args->Has("help");
  if (k < argv.size()) {
    invocation.command = argv[k];
    invocation.args.assign(argv.begin() + k + 1, argv.end());
  }
  return invocation;
}

std::string GlobalFlagHelp() { return FlagHelp(GlobalFlags()); }

Connection::Connection(const GlobalOptions& options, std::string token,
                       std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      token_(std::move(token)),
      channel_(std::move(channel)),
      stub_(v1::JobService::NewStub(channel_)) {}

absl::StatusOr<ClientCredentials> ReadCredentials(
    const GlobalOptions& options) {
  ClientCredentials out;
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(options.token_file);
    if (!token.ok()) return token.status();
    out.token = *std::move(token);
  }
  out.channel = grpc::InsecureChannelCredentials();
  if (!options.tls_ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFileToString(options.tls_ca_file);
    if (!pem.ok()) {
      return absl::Status(pem.status().code(),
                          absl::StrCat("--tls-ca: ", pem.status().message()));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *pem;
    out.channel = grpc::SslCredentials(ssl);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const GlobalOptions& options) {
  // Failures reach the user as one line each (RpcError); gRPC's own log
  // lines (e.g. TLS handshake errors) stay off unless GRPC_VERBOSITY asks.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function(DiscardGrpcLog);
  }
  absl::StatusOr<ClientCredentials> credentials = ReadCredentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments arguments;
  // Metrics histories of long runs can exceed the 4 MiB default.
  arguments.SetMaxReceiveMessageSize(INT_MAX);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      options.server, credentials->channel, arguments);
  return std::unique_ptr<Connection>(new Connection(
      options, std::move(credentials->token), std::move(channel)));
}

std::unique_ptr<grpc::ClientContext> Connection::UnaryContext() const {
  std::unique_ptr<grpc::ClientContext> context = StreamContext();
  context->set_deadline(DeadlineAfter(options_.timeout_s));
  return context;
}

std::unique_ptr<grpc::ClientContext> Connection::StreamContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  }
  return context;
}

absl::Status Connection::AwaitChannel() {
  const auto deadline = DeadlineAfter(options_.timeout_s);
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY &&
         state != GRPC_CHANNEL_TRANSIENT_FAILURE &&
         state != GRPC_CHANNEL_SHUTDOWN) {
    if (!channel_->WaitForStateChange(state, deadline)) {
      return RpcError(
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no connection"));
    }
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Connection::CheckHealth() {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(options_.timeout_s));
  grpc::CompletionQueue queue;
  // HealthCheckRequest{service: ""} serializes to no bytes.
  grpc::Slice empty{std::string()};
  const grpc::ByteBuffer request(&empty, 1);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, kHealthCheckMethod, request, &queue);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, /*tag=*/&response);
  void* tag = nullptr;
  bool ok = false;
  queue.Next(&tag, &ok);
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  if (!status.ok()) return RpcError(status);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Valid() && response.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return ParseServingStatus(bytes);
}

absl::Status Connection::RpcError(const grpc::Status& status) const {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  const std::string name = absl::StatusCodeToString(code);
  const bool deadline = code == absl::StatusCode::kDeadlineExceeded;
  const bool unreachable =
      code == absl::StatusCode::kUnavailable ||
      (deadline && channel_->GetState(false) != GRPC_CHANNEL_READY);
  if (unreachable) {
    const std::string detail =
        deadline ? absl::StrCat("no connection within ", options_.timeout_s,
                                " s (--timeout-s)")
                 : status.error_message();
    return absl::Status(
        code, absl::StrCat("cannot reach eprop-server at ", options_.server,
                           " (", name, "): ", detail));
  }
  std::string message = status.error_message();
  if (deadline) {
    absl::StrAppend(&message, " (no answer within ", options_.timeout_s,
                    " s; see --timeout-s)");
  }
  return absl::Status(code, absl::StrCat(name, ": ", message));
}

}  // namespace eprop::cli
