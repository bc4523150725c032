#include "common/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace tp::common {
namespace {

absl::Status ioError(std::string_view what, const std::filesystem::path& path) {
  return absl::InternalError(concat(what, " ", path.string(), ": ", std::strerror(errno)));
}

bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

}  // namespace

absl::Status replaceFileDurably(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    return absl::InternalError(concat("cannot create ", dir.string(), ": ", error.message()));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ioError("cannot create", temporary);
  const bool written = writeAll(fd, bytes) && ::fdatasync(fd) == 0;
  absl::Status status = written ? absl::OkStatus() : ioError("cannot write", temporary);
  if (::close(fd) != 0 && status.ok()) status = ioError("cannot write", temporary);
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return status;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    absl::Status renamed = ioError("cannot rename to", path);
    ::unlink(temporary.c_str());
    return renamed;
  }
  // The rename lasts only once the directory is on disk too.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ioError("cannot open", dir);
  const bool synced = ::fsync(dir_fd) == 0;
  absl::Status dir_status = synced ? absl::OkStatus() : ioError("cannot sync", dir);
  ::close(dir_fd);
  return dir_status;
}

absl::StatusOr<std::string> readWholeFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(concat(path.string(), ": no file"));
    return ioError("cannot open", path);
  }
  std::string bytes;
  char chunk[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const absl::Status status = ioError("cannot read", path);
      ::close(fd);
      return status;
    }
    if (got == 0) break;
    bytes.append(chunk, static_cast<size_t>(got));
  }
  ::close(fd);
  return bytes;
}

}  // namespace tp::common
