// Fault injection for system tests: preloaded into the real `kim` (LD_PRELOAD), it makes
// fdatasync() of a SQLite WAL file ("...-wal") fail with EIO while the file named by
// KIM_TEST_FAIL_WAL_SYNC_IF exists; every other call goes to the C library. A disk that fails a
// sync cannot be had on demand otherwise (dm-flakey needs root).
#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool is_wal_file(int fd) {
  char link[64];
  char target[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t size = readlink(link, target, sizeof target - 1);
  if (size < 4) return false;
  target[size] = '\0';
  return std::strcmp(target + size - 4, "-wal") == 0;
}

}  // namespace

// Exported although the project builds with hidden visibility: the loader must see it.
extern "C" __attribute__((visibility("default"))) int fdatasync(int fd) {
  using Fdatasync = int (*)(int);
  static const auto real_fdatasync = reinterpret_cast<Fdatasync>(dlsym(RTLD_NEXT, "fdatasync"));
  const char* flag = std::getenv("KIM_TEST_FAIL_WAL_SYNC_IF");
  if (flag != nullptr && access(flag, F_OK) == 0 && is_wal_file(fd)) {
    errno = EIO;
    return -1;
  }
  return real_fdatasync(fd);
}
