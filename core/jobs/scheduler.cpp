#include "jobs/scheduler.hpp"

#include <stdexcept>

namespace kim::jobs {

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::add(const std::string& owner, const std::string& name,
                    std::chrono::milliseconds interval, std::function<void()> job) {
  if (interval < std::chrono::milliseconds(10)) {
    throw std::invalid_argument("job \"" + name + "\": interval must be at least 10 ms");
  }
  const std::string full_name = owner + "." + name;
  std::lock_guard lock(mutex_);
  if (jobs_.count(full_name)) {
    throw std::invalid_argument("job \"" + full_name + "\" is already scheduled");
  }
  Job entry;
  entry.status.name = full_name;
  entry.status.owner = owner;
  entry.status.interval = interval;
  entry.work = std::move(job);
  entry.due = std::chrono::steady_clock::now() + interval;
  jobs_.emplace(full_name, std::move(entry));
  wake_.notify_all();
}

bool Scheduler::contains(const std::string& owner, const std::string& name) const {
  std::lock_guard lock(mutex_);
  return jobs_.count(owner + "." + name) > 0;
}

void Scheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Scheduler::trigger(const std::string& full_name) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(full_name);
  if (it == jobs_.end()) return false;
  it->second.due = std::chrono::steady_clock::now();
  it->second.triggered = true;
  wake_.notify_all();
  return true;
}

std::vector<JobStatus> Scheduler::jobs() const {
  std::lock_guard lock(mutex_);
  std::vector<JobStatus> result;
  for (const auto& [name, job] : jobs_)
    result.push_back(job.status);
  return result;
}

std::vector<std::string> Scheduler::names_of(const std::string& owner) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, job] : jobs_) {
    if (job.status.owner == owner) names.push_back(name);
  }
  return names;
}

void Scheduler::clear() {
  stop();
  std::lock_guard lock(mutex_);
  jobs_.clear();
}

void Scheduler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto next = jobs_.end();
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (next == jobs_.end() || it->second.due < next->second.due) next = it;
    }
    if (next == jobs_.end()) {
      wake_.wait(lock);
      continue;
    }
    if (next->second.due > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, next->second.due);
      continue;  // something may have changed: pick again
    }
    Job& job = next->second;
    job.triggered = false;
    auto work = job.work;
    const std::string name = job.status.name;
    lock.unlock();
    std::string error;
    try {
      work();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "non-standard exception";
    }
    lock.lock();
    auto it = jobs_.find(name);
    if (it == jobs_.end()) continue;  // cleared meanwhile
    JobStatus& status = it->second.status;
    ++status.runs;
    status.last_run = std::chrono::system_clock::now();
    status.last_error = error;
    if (!error.empty()) {
      ++status.failures;
      logger_->error("job {} failed: {}", name, error);
    }
    it->second.due = it->second.triggered ? std::chrono::steady_clock::now()
                                          : std::chrono::steady_clock::now() + status.interval;
  }
}

}  // namespace kim::jobs
