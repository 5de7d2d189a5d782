// Numbered resources on disk, one folder each:
//   DATA_DIR/COLLECTION/PREFIX000001/...
//   DATA_DIR/next_KIND_number      the number of the next id
// Ids are PREFIX and at least 6 decimal digits, so they sort by creation
// and can never name a path outside the data directory; they are never
// reused, also after a delete. Files are replaced atomically
// (core/util/file_io.h).
#ifndef EPROP_SERVER_RESOURCE_STORE_H_
#define EPROP_SERVER_RESOURCE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace eprop::server {

class ResourceStore {
 public:
  // kind: "job" (collection "jobs", ids "job-000001") or "net"
  // ("networks", "net-000001"). Creates the folders if needed and checks
  // that they are writable.
  static absl::StatusOr<std::unique_ptr<ResourceStore>> Open(
      const std::string& data_dir, const std::string& kind,
      const std::string& collection);

  bool IsValidId(const std::string& id) const;
  // OK for a valid id; INVALID_ARGUMENT naming `field` and the expected
  // form otherwise.
  absl::Status CheckId(const std::string& field, const std::string& id) const;
  // The page size of a List request (0: 100), or INVALID_ARGUMENT for a
  // size outside [0, 1000] or a token that is not an id of this store.
  absl::StatusOr<int> PageSize(int requested, const std::string& token) const;
  // Reserves the next id durably.
  absl::StatusOr<std::string> NewId();
  // Every id on disk, in creation order.
  std::vector<std::string> Ids() const;
  std::string Dir(const std::string& id) const;
  std::string Path(const std::string& id, const std::string& file) const {
    return Dir(id) + "/" + file;
  }
  // Writes DIR(id)/file atomically, creating DIR(id) if needed.
  absl::Status Write(const std::string& id, const std::string& file,
                     absl::string_view bytes);
  absl::Status Delete(const std::string& id);

 private:
  ResourceStore(std::string root, std::string prefix, std::string counter,
                int64_t next)
      : root_(std::move(root)),
        prefix_(std::move(prefix)),
        counter_(std::move(counter)),
        next_number_(next) {}
  int64_t Number(const std::string& id) const;

  std::string root_;     // DATA_DIR/COLLECTION
  std::string prefix_;   // "job-"
  std::string counter_;  // DATA_DIR/next_job_number
  int64_t next_number_;
};

}  // namespace eprop::server

#endif  // EPROP_SERVER_RESOURCE_STORE_H_
