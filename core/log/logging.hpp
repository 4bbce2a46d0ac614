// One place that builds spdlog loggers, so every logger (host and plugins) shares sinks, level and
// pattern from the config. Rule for every caller: never log personal data.
#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "config/host_config.hpp"

namespace kim::log {

// Replaces the sinks, level and pattern of all loggers made from now on (and of the default
// logger "kim"). Throws std::invalid_argument for an unknown level.
void configure(const config::LogConfig& config);

// A logger named `name` on the configured sinks; the same name returns the same logger.
std::shared_ptr<spdlog::logger> get(const std::string& name);

}  // namespace kim::log
