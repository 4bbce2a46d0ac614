// Runs scheduled jobs (registered by plugins or the host) at fixed intervals on one thread, so
// runs of a job never overlap. Jobs should be short or hand their work to a queue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

namespace kim::jobs {

struct JobStatus {
  std::string name;  // "<owner>.<name>"
  std::string owner;
  std::chrono::milliseconds interval{0};
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
  std::string last_error;  // empty after a successful run
  std::optional<std::chrono::system_clock::time_point> last_run;
};

class Scheduler {
 public:
  explicit Scheduler(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  ~Scheduler();

  // Registers before start(). Throws std::invalid_argument for a taken name or an interval below
  // 10 ms (a busy loop is never what anyone wants).
  void add(const std::string& owner, const std::string& name, std::chrono::milliseconds interval,
           std::function<void()> job);
  bool contains(const std::string& owner, const std::string& name) const;

  void start();
  // Waits for a running job to finish, then stops. Idempotent.
  void stop();

  // Runs the job on the scheduler thread as soon as possible. False when there is no such job.
  bool trigger(const std::string& full_name);

  std::vector<JobStatus> jobs() const;
  std::vector<std::string> names_of(const std::string& owner) const;
  // Drops every job; called before plugin libraries are released.
  void clear();

 private:
  struct Job {
    JobStatus status;
    std::function<void()> work;
    std::chrono::steady_clock::time_point due;
    bool triggered = false;  // trigger() arrived; survives a run that is in progress
  };
  void loop();

  std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kim::jobs
