// The raw SQLite baseline on its own, for bench/side_by_side.sh: serial single-row autocommits,
// WAL, synchronous=FULL (see baseline.hpp). Prints one line "commits/s N".
//
//   kim_sqlite_baseline [--rows N] [--path DIR]
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <unistd.h>

#include "baseline.hpp"

int main(int argc, char** argv) {
  try {
    int rows = 500;
    std::filesystem::path dir = std::filesystem::temp_directory_path();
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
      if (arg == "--rows") {
        rows = std::stoi(argv[++i]);
      } else if (arg == "--path") {
        dir = argv[++i];
      } else {
        throw std::invalid_argument("unknown argument " + std::string(arg) +
                                    " (use --rows N --path DIR)");
      }
    }
    if (rows < 1) throw std::invalid_argument("--rows must be >= 1");
    const auto db = dir / ("kim_sqlite_baseline_" + std::to_string(::getpid()) + ".db");
    std::printf("commits/s %.1f\n", kim::bench::plain_rows_per_second(db, "WAL", rows));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kim_sqlite_baseline: %s\n", e.what());
    return 1;
  }
}
