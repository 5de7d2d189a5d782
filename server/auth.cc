#include "server/auth.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/util/file_io.h"

namespace eprop::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

// Compares in time independent of where the strings differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

class AuthInterceptor : public grpc::experimental::Interceptor {
 public:
  AuthInterceptor(grpc::experimental::ServerRpcInfo* info,
                  const Authenticator* authenticator)
      : info_(info), authenticator_(authenticator) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const grpc::Status status =
          authenticator_->CheckMetadata(*methods->GetRecvInitialMetadata());
      if (!status.ok()) info_->server_context()->TryCancel();
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  const Authenticator* authenticator_;
};

class AuthInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuthInterceptorFactory(const Authenticator* authenticator)
      : authenticator_(authenticator) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const absl::string_view method = info->method();
    if (!authenticator_->enabled() ||
        absl::StartsWith(method, "/grpc.health.v1.") ||
        absl::StartsWith(method, "/eprop.v1.")) {
      return nullptr;
    }
    return new AuthInterceptor(info, authenticator_);
  }

 private:
  const Authenticator* authenticator_;
};

}  // namespace

absl::StatusOr<Authenticator> Authenticator::FromTokenFile(
    const std::string& path) {
  Authenticator auth;
  if (path.empty()) return auth;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_token_file: ", text.status().message()));
  }
  const absl::string_view token = absl::StripAsciiWhitespace(*text);
  const bool printable = std::all_of(
      token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (token.size() < 16 || token.size() > 4096 || !printable) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--auth_token_file ", path,
        " must hold one token of 16 to 4096 printable ASCII characters "
        "without spaces (for example: openssl rand -hex 32)"));
  }
  auth.token_ = std::string(token);
  return auth;
}

grpc::Status Authenticator::CheckMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  if (!enabled()) return grpc::Status::OK;
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kBearer) ||
      !ConstantTimeEquals(value.substr(kBearer.size()), token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "invalid bearer token");
  }
  return grpc::Status::OK;
}

grpc::Status Authenticator::Check(
    const grpc::ServerContextBase& context) const {
  return CheckMetadata(context.client_metadata());
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeAuthInterceptorFactory(const Authenticator* authenticator) {
  return std::make_unique<AuthInterceptorFactory>(authenticator);
}

}  // namespace eprop::server
