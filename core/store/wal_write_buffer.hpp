// A SQLite VFS that hands the WAL a commit's frames in one write(2) instead of two per page.
//
// Why: SQLite writes each WAL frame as two pwrite calls (its 24-byte header, then the page), so a
// group commit of 30 pages costs 60 system calls. On the paravirtualised machines kim runs on a
// call costs ~5 us, and these writes were a quarter of the writer thread's time
// (bench/README.md, "Request path, step 5").
//
// How: the VFS wraps SQLite's default one. For a WAL file it gathers writes that continue one
// another in a buffer and writes the buffer at once when the frame that commits a transaction is
// complete (so a failed write still fails that COMMIT, as without the buffer), and before any
// other operation on the file (read, sync, truncate, size, lock, close). A write that does not
// continue the buffer writes the buffer first. Other connections read the WAL through their own
// file descriptors and learn of new frames from the wal-index header, which the writer updates
// only after the commit frame: they never see a frame that is still in the buffer. As a last
// guard, the database file's shared-memory barrier (which SQLite calls between the two copies of
// that header) writes what is left; if that write fails, kim stops at once, before the header
// makes anything visible (what is on disk is then unknown, and SQLite's recovery at the next start
// drops the transaction that was not complete).
//
// Only the store's writer connection opens files through it; readers use the default VFS.
#pragma once

#include <cstdint>

namespace kim::store {

// The VFS's name for sqlite3_open_v2; registered (not as the default) at the first call.
const char* wal_write_buffer_vfs();

// Process-wide counts since start, for tests and benchmarks.
struct WalWriteBufferCounts {
  std::uint64_t writes_gathered = 0;  // writes SQLite made to WAL files through the VFS
  std::uint64_t writes_made = 0;      // write(2) calls they became
};
WalWriteBufferCounts wal_write_buffer_counts();

}  // namespace kim::store
