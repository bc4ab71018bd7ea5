// What every fuzz target shares: the input as a file the reader can open by path (a memfd, so
// no disk I/O per run), and the contract every reader promises its callers. The CLI turns a
// core::Error into one line and exit code 2 and lets anything else terminate the process, so a
// reader that lets another exception escape, or whose message is not one line naming the file,
// is as much a bug as a crash.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "core/error.h"

namespace vitbench::fuzz {

// One file, rewritten in place for every input. /proc/self/fd/N opens it like any path.
class MemFile {
 public:
  explicit MemFile(const char* name) {
    fd_ = ::memfd_create(name, MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  const std::string& write(std::string_view bytes) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done,
                                 static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

[[noreturn]] inline void contract_broken(const std::string& what, const std::string& message) {
  std::fprintf(stderr, "\n==vitbench-fuzz== %s\n  message: %s\n", what.c_str(), message.c_str());
  std::abort();
}

// Runs `read`, which may refuse its input only with a core::Error whose message is one line
// naming `where`. Returns whether the input was accepted.
template <typename Fn>
bool accepts(const std::string& where, Fn&& read) {
  try {
    read();
    return true;
  } catch (const core::Error& e) {
    const std::string message = e.what();
    if (message.find('\n') != std::string::npos || message.find('\r') != std::string::npos) {
      contract_broken("an error message spans several lines", message);
    }
    if (message.find(where) == std::string::npos) {
      contract_broken("an error message does not name the file \"" + where + "\"", message);
    }
    return false;
  } catch (const std::exception& e) {
    contract_broken(std::string("an exception other than core::Error escaped (") +
                        typeid(e).name() + ")",
                    e.what());
  }
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace vitbench::fuzz
