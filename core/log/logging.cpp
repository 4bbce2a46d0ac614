#include "log/logging.hpp"

#include <mutex>
#include <stdexcept>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace kim::log {

namespace {

struct State {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::level::level_enum level = spdlog::level::info;
  std::string pattern = "%Y-%m-%dT%H:%M:%S.%e%z %l [%n] %v";
};

State& state() {
  static State instance;
  return instance;
}

std::shared_ptr<spdlog::logger> make_locked(State& s, const std::string& name) {
  if (s.sinks.empty()) s.sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>(name, s.sinks.begin(), s.sinks.end());
  logger->set_level(s.level);
  logger->set_pattern(s.pattern);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace

void configure(const config::LogConfig& config) {
  auto level = spdlog::level::from_str(config.level);
  if (level == spdlog::level::off && config.level != "off") {
    throw std::invalid_argument("unknown log level \"" + config.level + "\"");
  }
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.sinks.clear();
  if (config.file) {
    s.sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file->string()));
  } else {
    s.sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  s.level = level;
  s.pattern = config.pattern;
  // Loggers handed out earlier keep working but move to the new sinks and settings.
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks() = s.sinks;
    logger->set_level(s.level);
    logger->set_pattern(s.pattern);
  });
  if (!spdlog::get("kim")) {
    auto logger = make_locked(s, "kim");
    spdlog::register_logger(logger);
    spdlog::set_default_logger(logger);
  }
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = make_locked(s, name);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace kim::log
