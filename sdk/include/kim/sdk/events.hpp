// Domain events: notifications delivered to subscribers after the change that caused them
// committed.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace kim::sdk {

struct Event {
  // Dotted name. The host publishes "host.started", "host.stopping", "plugin.started";
  // a plugin may publish only names that begin with "<its id>." (e.g. "hello.greeted").
  std::string type;
  // Identifiers and facts, never names or other personal data: events reach every subscriber.
  nlohmann::json payload = nlohmann::json::object();
  std::chrono::system_clock::time_point occurred_at = std::chrono::system_clock::now();
  std::string source;  // "host" or the publishing plugin's id; set by the host
};

// A hook's answer: allow the change, or veto it with a reason the caller sees (HTTP 422).
struct HookResult {
  bool allowed = true;
  std::string reason;
  static HookResult allow() { return {true, {}}; }
  static HookResult veto(std::string reason) { return {false, std::move(reason)}; }
};

// Runs synchronously inside the write transaction, before commit: validation and derived checks
// only, quick, and without I/O that can wait (the whole host's writes wait with it). Throwing
// counts as a veto.
using HookHandler = std::function<HookResult(const Event&)>;

// Runs on the publisher's thread after commit. A handler that throws is logged and skipped; it
// never affects the publisher or the other subscribers. Keep it quick.
using EventHandler = std::function<void(const Event&)>;

}  // namespace kim::sdk
