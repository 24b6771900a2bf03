//===- OutputFile.h - files written whole or not at all --------*- C++ -*-===//
//
// Every file Strata writes — checkpoints the runtime saves, and what the
// tools write (strata-compile -o, strata-opt -o, strata-run --output) —
// goes through here, so a failed or interrupted write never leaves a
// truncated file where a good one was:
//
//  - a regular file (or a path that does not exist yet) is written to a
//    temporary file in the same directory; every write, the fsync and the
//    close are checked, and only then is it renamed over the target;
//  - a symbolic link is followed: its target is replaced atomically in
//    the target's directory and the link stays a link;
//  - a device, FIFO or socket (/dev/null, a named pipe) is written
//    directly and never replaced; so is an open descriptor named through
//    /proc or /dev/fd (/dev/stdout), which is appended to;
//  - a directory is refused.
//
// Errors read "cannot write 'PATH': CAUSE". Plain C++ and POSIX. A
// file-size limit (ulimit -f) raises SIGXFSZ unless the process ignores
// it; the runtime leaves that signal to its host, the tools ignore it
// (ignoreFileSizeSignal) so that the write fails with a message instead.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_OUTPUTFILE_H
#define STRATA_RUNTIME_OUTPUTFILE_H

#include <string>
#include <string_view>

namespace strata::runtime {

/// One output file being written; see the file comment for the rules.
/// Destroying it before commit() removes the temporary file, leaving the
/// target as it was.
class OutputFile {
public:
  OutputFile() = default;
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;
  ~OutputFile();

  /// Prepares to write `path`. False, with `error` set, when it cannot be
  /// written (a directory, a missing directory, no permission).
  bool open(const std::string &path, std::string &error);

  /// Appends `size` bytes.
  bool write(const void *data, size_t size, std::string &error);

  /// Makes the bytes written so far the file's contents: fsync, close and
  /// the rename (for a device, only the close).
  bool commit(std::string &error);

  /// The temporary file being written, renamed over the target by
  /// commit(); empty when the target is written directly (a device).
  const std::string &temporaryPath() const;

private:
  bool fail(std::string &error, const std::string &cause);

  std::string path_;      // as the user named it, for messages
  std::string target_;    // the file replaced (symbolic links resolved)
  std::string temporary_; // empty when writing the target directly
  int fd_ = -1;
};

/// Writes `data` to `path` through an OutputFile; an empty path or "-" is
/// standard output (its errors checked too).
bool writeFile(const std::string &path, std::string_view data,
               std::string &error);

/// Makes a file-size limit fail writes with EFBIG instead of killing the
/// process with SIGXFSZ (for the tools; a library must not change it).
void ignoreFileSizeSignal();

} // namespace strata::runtime

#endif // STRATA_RUNTIME_OUTPUTFILE_H
