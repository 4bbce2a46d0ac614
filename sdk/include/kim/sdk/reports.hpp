// Helpers for a plugin's reports: reading every page of a host list as the caller, and counts
// that single out nobody. Header-only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "kim/sdk/host.hpp"
#include "kim/sdk/json.hpp"

namespace kim::sdk {

// Counts a report shows: from 1 to `threshold - 1` as "<5" (the string), so no person can be
// singled out by a small number; 0 and larger counts as numbers.
inline nlohmann::json small_count(long long count, long long threshold = 5) {
  if (count > 0 && count < threshold) return "<" + std::to_string(threshold);
  return count;
}

// Calls `each` with every item of a host list (`GET` answering {"items": […], "next_cursor": …},
// e.g. /api/v1/cases or /api/v1/referrals) as `caller` sees it, page after page through
// PluginHost::read_api (the host's access checks and audit apply). Answers nothing when all pages
// were read, else the host's answer that stopped it (pass it on: a 403 stays a 403).
inline std::optional<HttpResponse> for_each_item(
    PluginHost& host, const HttpRequest& caller, const std::string& path,
    std::map<std::string, std::string> query,
    const std::function<void(const nlohmann::json&)>& each, int page_size = 200) {
  query["limit"] = std::to_string(page_size);
  for (;;) {
    auto answer = host.read_api(caller, path, query);
    if (answer.status != 200) return answer;
    auto page = parse_json_object(answer.body);
    if (!page || !page.value.contains("items") || !page.value["items"].is_array()) {
      return HttpResponse::error(502, "bad_gateway", "unexpected answer for " + path);
    }
    for (const auto& item : page.value["items"])
      each(item);
    const auto next = page.value.find("next_cursor");
    if (next == page.value.end() || next->is_null()) return std::nullopt;
    query["cursor"] = next->is_string() ? next->get<std::string>() : next->dump();
  }
}

}  // namespace kim::sdk
