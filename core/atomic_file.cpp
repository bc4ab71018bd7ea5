#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"

namespace vitbench::core {
namespace {

std::string folder_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path, std::string("write failed: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail(path, std::string("fsync failed: ") + std::strerror(errno));
}

std::string temporary_name(const std::string& path) {
  std::random_device rd;
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
}

}  // namespace

void require_output_folder(const std::string& path) {
  const std::string folder = folder_of(path);
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fail(path, "output folder \"" + folder + "\" does not exist");
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  require_output_folder(path);
  const std::string folder = folder_of(path);
  const std::string temp = temporary_name(path);

  // O_TMPFILE: the file has no name until it is complete, so a kill leaves nothing behind.
  int fd = ::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0) {
    try {
      write_all(fd, bytes, path);
    } catch (...) {
      ::close(fd);
      throw;
    }
    const std::string proc = "/proc/self/fd/" + std::to_string(fd);
    const int linked = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW);
    ::close(fd);
    if (linked != 0) fail(path, std::string("cannot create file: ") + std::strerror(errno));
  } else {
    // File systems without O_TMPFILE: a named temporary, removed on any failure.
    fd = ::open(temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) fail(path, std::string("cannot create file: ") + std::strerror(errno));
    try {
      write_all(fd, bytes, path);
    } catch (...) {
      ::close(fd);
      ::unlink(temp.c_str());
      throw;
    }
    ::close(fd);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(path, std::string("cannot move file into place: ") + std::strerror(err));
  }
}

}  // namespace vitbench::core
