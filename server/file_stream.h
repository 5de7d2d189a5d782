// Streams a file to a client in chunks of at most 1 MiB. The file is opened
// once; files here are replaced by rename, never rewritten in place, so the
// stream reads one consistent version even if a newer one appears.
#ifndef EPROP_SERVER_FILE_STREAM_H_
#define EPROP_SERVER_FILE_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace eprop::server {

inline constexpr size_t kFileChunkBytes = 1 << 20;

// Chunk must have set_data, set_offset_bytes and set_total_bytes;
// `decorate` may fill further fields of every chunk.
template <typename Chunk, typename Decorate>
grpc::Status StreamFile(const std::string& path, const std::string& what,
                        grpc::ServerWriter<Chunk>* writer, Decorate decorate) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat(what, " cannot be read"));
  }
  const int64_t total = file.tellg();
  file.seekg(0);
  std::string buffer(kFileChunkBytes, '\0');
  int64_t offset = 0;
  do {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const int64_t n = file.gcount();
    Chunk chunk;
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    chunk.set_offset_bytes(offset);
    chunk.set_total_bytes(total);
    decorate(&chunk);
    if (!writer->Write(chunk)) return grpc::Status::CANCELLED;
    offset += n;
  } while (offset < total && file);
  if (offset != total) {
    return grpc::Status(
        grpc::StatusCode::DATA_LOSS,
        absl::StrCat(what, ": read stopped at byte ", offset, " of ", total));
  }
  return grpc::Status::OK;
}

}  // namespace eprop::server

#endif  // EPROP_SERVER_FILE_STREAM_H_
