//===- OutputFile.cpp - files written whole or not at all ------*- C++ -*-===//

#include "runtime/OutputFile.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace strata::runtime;

namespace {

enum class Mode { Replace, Direct };

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// /proc/self/fd/N, /dev/fd/N and what links there (/dev/stdout) name an
/// open descriptor, whatever file is behind it: replacing that file would
/// cut it off from the descriptor (an append-mode log would lose what it
/// held), so such paths are written directly.
bool namesDescriptor(const std::string &path) {
  return path.rfind("/proc/", 0) == 0 || path.rfind("/dev/fd/", 0) == 0;
}

/// The symbolic link `path`'s target, relative ones made relative to the
/// link's directory; empty when `path` is not a link.
std::string linkTarget(const std::string &path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode))
    return {};
  std::vector<char> buffer(PATH_MAX + 1);
  ssize_t n = readlink(path.c_str(), buffer.data(), PATH_MAX);
  if (n <= 0)
    return {};
  std::string target(buffer.data(), static_cast<size_t>(n));
  return target[0] == '/' ? target : directoryOf(path) + "/" + target;
}

/// Where writing `path` goes (`target`) and how; 0 or an errno.
int resolve(const std::string &path, std::string &target, Mode &mode) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return EISDIR;
    if (!S_ISREG(st.st_mode)) {
      target = path;
      mode = Mode::Direct;
      return 0;
    }
  } else if (errno != ENOENT) {
    return errno;
  }
  // A regular file, or none yet (a dangling link creates its target):
  // follow the links so that the file, not a link to it, is replaced.
  target = path;
  for (int hops = 0; hops < 40; ++hops) {
    if (namesDescriptor(target)) {
      target = path;
      mode = Mode::Direct;
      return 0;
    }
    std::string next = linkTarget(target);
    if (next.empty()) {
      mode = Mode::Replace;
      return 0;
    }
    target = next;
  }
  return ELOOP;
}

/// The permissions open(2) gives a new file: 0666 less the umask.
mode_t newFilePermissions() {
  mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

bool writeAll(int fd, const void *data, size_t size, int &err) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

} // namespace

OutputFile::~OutputFile() {
  if (fd_ >= 0)
    close(fd_);
  if (!temporary_.empty())
    unlink(temporary_.c_str());
}

bool OutputFile::fail(std::string &error, const std::string &cause) {
  error = "cannot write '" + path_ + "': " + cause;
  return false;
}

bool OutputFile::open(const std::string &path, std::string &error) {
  path_ = path;
  Mode mode = Mode::Replace;
  if (int err = resolve(path, target_, mode))
    return fail(error, std::strerror(err));
  if (mode == Mode::Direct) {
    fd_ = ::open(target_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    return fd_ >= 0 || fail(error, std::strerror(errno));
  }
  temporary_ = target_ + ".tmp.XXXXXX";
  fd_ = mkostemp(temporary_.data(), O_CLOEXEC);
  if (fd_ < 0) {
    int err = errno;
    temporary_.clear();
    return fail(error, std::strerror(err));
  }
  return true;
}

bool OutputFile::write(const void *data, size_t size, std::string &error) {
  int err = 0;
  return writeAll(fd_, data, size, err) || fail(error, std::strerror(err));
}

bool OutputFile::commit(std::string &error) {
  int fd = fd_;
  fd_ = -1;
  if (temporary_.empty())
    return close(fd) == 0 || fail(error, std::strerror(errno));
  // The file's data must be on disk before the rename makes it the
  // target's, or a crash could leave an empty file under the old name.
  if (fsync(fd) != 0 || close(fd) != 0)
    return fail(error, std::strerror(errno));
  // mkstemp creates 0600: keep the permissions of the file replaced, or
  // give those of a new file.
  struct stat st;
  mode_t permissions = stat(target_.c_str(), &st) == 0
                           ? st.st_mode & 07777
                           : newFilePermissions();
  if (chmod(temporary_.c_str(), permissions) != 0 ||
      rename(temporary_.c_str(), target_.c_str()) != 0)
    return fail(error, std::strerror(errno));
  temporary_.clear();
  // The rename itself is durable once the directory is (best effort).
  int dir = ::open(directoryOf(target_).c_str(), O_RDONLY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return true;
}

const std::string &OutputFile::temporaryPath() const { return temporary_; }

bool strata::runtime::writeFile(const std::string &path, std::string_view data,
                              std::string &error) {
  if (path.empty() || path == "-") {
    std::fflush(stdout);
    int err = 0;
    if (writeAll(STDOUT_FILENO, data.data(), data.size(), err))
      return true;
    error = std::string("cannot write to standard output: ") +
            std::strerror(err);
    return false;
  }
  OutputFile out;
  return out.open(path, error) && out.write(data.data(), data.size(), error) &&
         out.commit(error);
}

void strata::runtime::ignoreFileSizeSignal() {
  // Past the limit write(2) then fails with EFBIG, which is reported and
  // cleaned up like any other write error.
  std::signal(SIGXFSZ, SIG_IGN);
}
