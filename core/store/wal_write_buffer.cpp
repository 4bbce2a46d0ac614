#include "store/wal_write_buffer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace kim::store {

namespace {

constexpr int kFrameHeaderBytes = 24;
// A larger transaction is written in pieces of at most this size: SQLite's unix VFS writes no
// more than 128 KiB - 1 per call (it masks the length to 17 bits).
constexpr std::size_t kMostBuffered = (std::size_t{1} << 17) - 1;

std::atomic<std::uint64_t> writes_gathered{0};
std::atomic<std::uint64_t> writes_made{0};

// What the VFS opens as its own (main database files and WAL files): this wrapper, followed in the
// same allocation by the default VFS's file, to which every call goes on. Plain data: SQLite
// allocates it uninitialised and never runs a constructor or destructor.
struct File {
  sqlite3_file base;
  sqlite3_file* wrapped;
  bool is_wal;
  File* partner;  // the WAL of a main database file, or the main database file of a WAL
  // WAL files only: writes gathered but not yet made, [offset, offset + length).
  unsigned char* data;
  std::size_t length;
  std::size_t capacity;
  sqlite3_int64 offset;
  bool commit_header_last;  // the last write gathered was the header of a commit frame
};

constexpr std::size_t kWrappedOffset = (sizeof(File) + 15) & ~std::size_t{15};

sqlite3_vfs* default_vfs(sqlite3_vfs* ours) {
  return static_cast<sqlite3_vfs*>(ours->pAppData);
}
File* as_file(sqlite3_file* file) {
  return reinterpret_cast<File*>(file);
}
const sqlite3_io_methods& wrapped(File* f) {
  return *f->wrapped->pMethods;
}

// A write through to the file, not gathered.
int write_through(File* f, const void* data, int amount, sqlite3_int64 offset) {
  writes_made.fetch_add(1, std::memory_order_relaxed);
  return wrapped(f).xWrite(f->wrapped, data, amount, offset);
}

int flush(File* f) {
  if (f->length == 0) return SQLITE_OK;
  const int rc = write_through(f, f->data, static_cast<int>(f->length), f->offset);
  // A failed write leaves nothing gathered: SQLite fails the transaction, and frames it wrote
  // beyond the last commit are never read.
  f->length = 0;
  f->commit_header_last = false;
  return rc;
}

// Bytes 4-7 of a frame header hold the database size after the commit, and are zero for every
// frame but a transaction's last.
bool is_commit_frame_header(const void* data, int amount) {
  if (amount != kFrameHeaderBytes) return false;
  const auto* bytes = static_cast<const unsigned char*>(data);
  return (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

int gather(File* f, const void* data, int amount, sqlite3_int64 offset) {
  writes_gathered.fetch_add(1, std::memory_order_relaxed);
  const auto size = static_cast<std::size_t>(amount);
  if (f->length > 0 && offset != f->offset + static_cast<sqlite3_int64>(f->length)) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (f->length + size > kMostBuffered) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (size > kMostBuffered) return write_through(f, data, amount, offset);
  if (f->length + size > f->capacity) {
    const std::size_t capacity =
        std::min(kMostBuffered, std::max({f->length + size, 2 * f->capacity, std::size_t{32768}}));
    void* grown = sqlite3_realloc64(f->data, capacity);
    if (grown == nullptr) {
      if (const int rc = flush(f); rc != SQLITE_OK) return rc;
      return write_through(f, data, amount, offset);
    }
    f->data = static_cast<unsigned char*>(grown);
    f->capacity = capacity;
  }
  if (f->length == 0) f->offset = offset;
  std::memcpy(f->data + f->length, data, size);
  f->length += size;
  // The page after a commit frame's header completes the transaction: write it now, so that a
  // failure fails the COMMIT before SQLite publishes the frames in the wal-index.
  const bool completes_commit = f->commit_header_last;
  f->commit_header_last = is_commit_frame_header(data, amount);
  return completes_commit ? flush(f) : SQLITE_OK;
}

// Calls `method` of the wrapped file once what is gathered is in the file (nothing is gathered for
// a main database file).
template <class Method, class... Args>
int after_flush(sqlite3_file* file, Method method, Args... args) {
  File* f = as_file(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return (wrapped(f).*method)(f->wrapped, args...);
}

// --- sqlite3_io_methods: WAL files gather writes; everything else goes on at once ---------------

int x_close(sqlite3_file* file) {
  File* f = as_file(file);
  const int flushed = f->is_wal ? flush(f) : SQLITE_OK;
  if (f->partner != nullptr) f->partner->partner = nullptr;
  const int closed = wrapped(f).xClose(f->wrapped);
  sqlite3_free(f->data);
  f->data = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int x_read(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  return after_flush(file, &sqlite3_io_methods::xRead, data, amount, offset);
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = as_file(file);
  if (f->is_wal) return gather(f, data, amount, offset);
  return wrapped(f).xWrite(f->wrapped, data, amount, offset);
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  return after_flush(file, &sqlite3_io_methods::xTruncate, size);
}

int x_sync(sqlite3_file* file, int flags) {
  return after_flush(file, &sqlite3_io_methods::xSync, flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  return after_flush(file, &sqlite3_io_methods::xFileSize, size);
}

int x_lock(sqlite3_file* file, int level) {
  return after_flush(file, &sqlite3_io_methods::xLock, level);
}

int x_unlock(sqlite3_file* file, int level) {
  return after_flush(file, &sqlite3_io_methods::xUnlock, level);
}

int x_check_reserved_lock(sqlite3_file* file, int* out) {
  File* f = as_file(file);
  return wrapped(f).xCheckReservedLock(f->wrapped, out);
}

int x_file_control(sqlite3_file* file, int op, void* arg) {
  return after_flush(file, &sqlite3_io_methods::xFileControl, op, arg);
}

int x_sector_size(sqlite3_file* file) {
  File* f = as_file(file);
  return wrapped(f).xSectorSize(f->wrapped);
}

int x_device_characteristics(sqlite3_file* file) {
  File* f = as_file(file);
  return wrapped(f).xDeviceCharacteristics(f->wrapped);
}

int x_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  File* f = as_file(file);
  return wrapped(f).xShmMap(f->wrapped, region, size, extend, out);
}

int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  File* f = as_file(file);
  return wrapped(f).xShmLock(f->wrapped, offset, n, flags);
}

// SQLite calls the barrier between writing the two copies of the wal-index header; the second
// copy makes new frames visible to other connections. Whatever of the WAL is still gathered must
// be in the file before that. The commit frame wrote it already (gather()); what can be left is a
// header SQLite rewrote after it (frames written twice in one transaction). If that write fails,
// no error can reach SQLite any more: stop before the header is complete.
void x_shm_barrier(sqlite3_file* file) {
  File* f = as_file(file);
  if (f->partner != nullptr && f->partner->is_wal && flush(f->partner) != SQLITE_OK) {
    std::fputs("kim: fatal: could not write the WAL before publishing a commit; stopping\n",
               stderr);
    std::abort();
  }
  wrapped(f).xShmBarrier(f->wrapped);
}

int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  File* f = as_file(file);
  return wrapped(f).xShmUnmap(f->wrapped, delete_flag);
}

int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  return after_flush(file, &sqlite3_io_methods::xFetch, offset, amount, out);
}

int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  File* f = as_file(file);
  return wrapped(f).xUnfetch(f->wrapped, offset, page);
}

const sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

// --- sqlite3_vfs ------------------------------------------------------------------------------

int v_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* inner = default_vfs(vfs);
  const bool is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (!is_wal && (flags & SQLITE_OPEN_MAIN_DB) == 0) {
    // Journals and temporary files: the default VFS's file, in place, without this layer.
    return inner->xOpen(inner, name, file, flags, out_flags);
  }
  File* f = new (file) File{};
  f->wrapped = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kWrappedOffset);
  f->wrapped->pMethods = nullptr;
  f->is_wal = is_wal;
  const int rc = inner->xOpen(inner, name, f->wrapped, flags, out_flags);
  // SQLite calls xClose after a failed xOpen only when pMethods is set.
  f->base.pMethods = f->wrapped->pMethods != nullptr ? &kMethods : nullptr;
  if (rc == SQLITE_OK && is_wal && name != nullptr) {
    sqlite3_file* database = sqlite3_database_file_object(name);
    if (database != nullptr && database->pMethods == &kMethods) {
      File* main = as_file(database);
      main->partner = f;
      f->partner = main;
    }
  }
  return rc;
}

int v_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xDelete(inner, name, sync_dir);
}

int v_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xAccess(inner, name, flags, out);
}

int v_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xFullPathname(inner, name, size, out);
}

void* v_dl_open(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xDlOpen(inner, name);
}

void v_dl_error(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* inner = default_vfs(vfs);
  inner->xDlError(inner, size, out);
}

void (*v_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xDlSym(inner, handle, symbol);
}

void v_dl_close(sqlite3_vfs* vfs, void* handle) {
  sqlite3_vfs* inner = default_vfs(vfs);
  inner->xDlClose(inner, handle);
}

int v_randomness(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xRandomness(inner, size, out);
}

int v_sleep(sqlite3_vfs* vfs, int microseconds) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xSleep(inner, microseconds);
}

int v_current_time(sqlite3_vfs* vfs, double* out) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xCurrentTime(inner, out);
}

int v_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xGetLastError != nullptr ? inner->xGetLastError(inner, size, out) : 0;
}

int v_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  sqlite3_vfs* inner = default_vfs(vfs);
  return inner->xCurrentTimeInt64(inner, out);
}

sqlite3_vfs* register_vfs() {
  // The unix VFS of every SQLite since 3.7 is version 3, with version-3 files (memory-mapped reads,
  // shared memory); the wrapper forwards those methods without checks.
  sqlite3_vfs* inner = sqlite3_vfs_find(nullptr);
  if (inner == nullptr || inner->iVersion < 2 || inner->xCurrentTimeInt64 == nullptr)
    return nullptr;
  static sqlite3_vfs vfs = {};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(kWrappedOffset) + inner->szOsFile;
  vfs.mxPathname = inner->mxPathname;
  vfs.zName = "kim-wal-buffer";
  vfs.pAppData = inner;
  vfs.xOpen = v_open;
  vfs.xDelete = v_delete;
  vfs.xAccess = v_access;
  vfs.xFullPathname = v_full_pathname;
  vfs.xDlOpen = v_dl_open;
  vfs.xDlError = v_dl_error;
  vfs.xDlSym = v_dl_sym;
  vfs.xDlClose = v_dl_close;
  vfs.xRandomness = v_randomness;
  vfs.xSleep = v_sleep;
  vfs.xCurrentTime = v_current_time;
  vfs.xGetLastError = v_get_last_error;
  vfs.xCurrentTimeInt64 = v_current_time_int64;
  return sqlite3_vfs_register(&vfs, /*makeDflt=*/0) == SQLITE_OK ? &vfs : nullptr;
}

}  // namespace

const char* wal_write_buffer_vfs() {
  static sqlite3_vfs* vfs = register_vfs();
  return vfs != nullptr ? vfs->zName : nullptr;
}

WalWriteBufferCounts wal_write_buffer_counts() {
  return {writes_gathered.load(std::memory_order_relaxed),
          writes_made.load(std::memory_order_relaxed)};
}

}  // namespace kim::store
