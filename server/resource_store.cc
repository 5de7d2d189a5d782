#include "server/resource_store.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/util/file_io.h"

namespace eprop::server {
namespace {

namespace fs = std::filesystem;

}  // namespace

absl::StatusOr<std::unique_ptr<ResourceStore>> ResourceStore::Open(
    const std::string& data_dir, const std::string& kind,
    const std::string& collection) {
  const std::string root = data_dir + "/" + collection;
  std::error_code error;
  fs::create_directories(root, error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create data directory ", root, ": ", error.message()));
  }
  const std::string counter = absl::StrCat(data_dir, "/next_", kind, "_number");
  int64_t next = 1;
  if (absl::StatusOr<std::string> text = ReadFileToString(counter); text.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &next) ||
        next < 1) {
      return absl::DataLossError(
          absl::StrCat(counter, " does not hold a number"));
    }
  }
  std::unique_ptr<ResourceStore> store(
      new ResourceStore(root, kind + "-", counter, next));
  for (const std::string& id : store->Ids()) {
    store->next_number_ = std::max(store->next_number_, store->Number(id) + 1);
  }
  // Proves the directory writable now rather than at the first create.
  if (absl::Status s =
          WriteFileAtomically(counter, absl::StrCat(store->next_number_, "\n"));
      !s.ok()) {
    return s;
  }
  return store;
}

bool ResourceStore::IsValidId(const std::string& id) const {
  if (id.size() < prefix_.size() + 6 || id.size() > prefix_.size() + 18 ||
      id.rfind(prefix_, 0) != 0) {
    return false;
  }
  return std::all_of(id.begin() + prefix_.size(), id.end(),
                     [](char c) { return std::isdigit(c); });
}

absl::Status ResourceStore::CheckId(const std::string& field,
                                    const std::string& id) const {
  if (id.empty()) return absl::InvalidArgumentError(field + " is required");
  if (!IsValidId(id)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must look like ",
                                                   prefix_, "000001, got '",
                                                   id.substr(0, 64), "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ResourceStore::PageSize(int requested,
                                            const std::string& token) const {
  if (requested < 0 || requested > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size must be in [0, 1000] (0: 100), got ", requested));
  }
  if (!token.empty() && !IsValidId(token)) {
    return absl::InvalidArgumentError(
        "page_token must be the next_page_token of a previous page");
  }
  return requested == 0 ? 100 : requested;
}

int64_t ResourceStore::Number(const std::string& id) const {
  int64_t number = -1;
  if (!absl::SimpleAtoi(absl::string_view(id).substr(prefix_.size()),
                        &number)) {
    return -1;
  }
  return number;
}

std::vector<std::string> ResourceStore::Ids() const {
  std::vector<std::string> ids;
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(root_, error)) {
    const std::string id = entry.path().filename().string();
    if (IsValidId(id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end(),
            [this](const std::string& a, const std::string& b) {
              return Number(a) < Number(b);
            });
  return ids;
}

absl::StatusOr<std::string> ResourceStore::NewId() {
  const int64_t number = next_number_;
  if (absl::Status s =
          WriteFileAtomically(counter_, absl::StrCat(number + 1, "\n"));
      !s.ok()) {
    return s;
  }
  next_number_ = number + 1;
  return absl::StrFormat("%s%06d", prefix_, number);
}

std::string ResourceStore::Dir(const std::string& id) const {
  return root_ + "/" + id;
}

absl::Status ResourceStore::Write(const std::string& id,
                                  const std::string& file,
                                  absl::string_view bytes) {
  std::error_code error;
  fs::create_directories(Dir(id), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", Dir(id), ": ", error.message()));
  }
  return WriteFileAtomically(Path(id, file), bytes);
}

absl::Status ResourceStore::Delete(const std::string& id) {
  std::error_code error;
  fs::remove_all(Dir(id), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot delete ", Dir(id), ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace eprop::server
