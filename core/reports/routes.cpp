#include <charconv>

#include "domain/route_support.hpp"
#include "reports/funding.hpp"
#include "reports/indicators.hpp"
#include "reports/reports.hpp"

namespace kim::reports {

using domain::Call;
using domain::Problem;
using domain::Reply;
using domain::Result;
using sdk::HttpMethod;
using sdk::HttpRequest;
using sdk::HttpResponse;

namespace {

// Figures for the steering and the state: coordinators for their offices, the auditor and
// admins for everything (reports.hpp).
const std::vector<std::string> kReportReaders = {"coordinator", "admin", "auditor"};

HttpResponse indicators(ReportService& service, const HttpRequest& request) {
  auto ctx = domain::context_of(request);
  if (!ctx) return domain::to_response(ctx.problem());
  auto query = indicator_query(request.query);
  if (!query) return domain::to_response(query.problem());
  auto result = service.indicators(ctx.value(), query.value());
  if (!result || query.value().format == "json") return domain::respond(result);
  HttpResponse response;
  response.status = 200;
  response.headers["content-type"] = "text/csv; charset=utf-8";
  response.headers["content-disposition"] = "attachment; filename=\"kim-indicators-" +
                                            query.value().from + "-" + query.value().to + ".csv\"";
  response.body = indicators_csv(result.value().body);
  return response;
}

Result<Reply> funding_report(FundingService& s, const Call& call) {
  if (auto problem = domain::unknown_parameter(call.request, {"year"})) return *problem;
  auto found = call.request.query.find("year");
  if (found == call.request.query.end()) return Problem::bad_request("year", "is required");
  int year = 0;
  const auto& text = found->second;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), year);
  if (error != std::errc() || end != text.data() + text.size() || year < 2000 || year > 2100) {
    return Problem::bad_request("year", "must be a year from 2000 to 2100");
  }
  return s.report(call.ctx, year);
}

const std::vector<domain::Route<FundingService>>& funding_routes() {
  const std::vector<std::string> kWriters = {"admin", "coordinator"};
  static const std::vector<domain::Route<FundingService>> routes = {
      {HttpMethod::kPost,
       "/api/v1/funding/decisions",
       kWriters,
       [](FundingService& s, const Call& c) { return s.create_decision(c.ctx, c.body); },
       "Record a funding decision of the state (admins and the county's coordinating office)",
       "funding",
       {{"building_block", 2},
        {"purpose", "Case management (Baustein 2)"},
        {"amount_cents", 22000000},
        {"period_from", "2021-01-01"},
        {"period_to", "2021-12-31"},
        {"decided_on", "2020-06-09"}}},
      {HttpMethod::kGet, "/api/v1/funding/decisions", kReportReaders,
       [](FundingService& s, const Call& c) {
         if (auto problem = domain::unknown_parameter(c.request, {}))
           return Result<Reply>(*problem);
         return s.list(c.ctx, "decisions");
       },
       "Funding decisions", "funding"},
      {HttpMethod::kPost,
       "/api/v1/funding/posts",
       kWriters,
       [](FundingService& s, const Call& c) { return s.create_post(c.ctx, c.body); },
       "Record posts of a building block at an organisation (FTE planned and filled, funding "
       "per FTE and year)",
       "funding",
       {{"building_block", 3},
        {"organisation", "stadt-rheine-ko"},
        {"function", "authority_casework"},
        {"fte_planned", 0.75},
        {"fte_filled", 0.75},
        {"period_from", "2021-01-01"},
        {"period_to", "2021-12-31"}}},
      {HttpMethod::kGet, "/api/v1/funding/posts", kReportReaders,
       [](FundingService& s, const Call& c) {
         if (auto problem = domain::unknown_parameter(c.request, {}))
           return Result<Reply>(*problem);
         return s.list(c.ctx, "posts");
       },
       "Funded posts", "funding"},
      {HttpMethod::kPost,
       "/api/v1/funding/forwardings",
       kWriters,
       [](FundingService& s, const Call& c) { return s.create_forwarding(c.ctx, c.body); },
       "Record a forwarding contract (Weiterleitungsvertrag) passing part of a decision's funds "
       "to a welfare organisation or town, within the decision's period; at least 1 cent and "
       "never more than the decision grants",
       "funding",
       {{"decision", "fdec_…"},
        {"organisation", "caritas-rheine"},
        {"amount_cents", 2444400},
        {"period_from", "2021-01-01"},
        {"period_to", "2021-12-31"},
        {"signed_on", "2020-11-15"}}},
      {HttpMethod::kGet, "/api/v1/funding/forwardings", kReportReaders,
       [](FundingService& s, const Call& c) {
         if (auto problem = domain::unknown_parameter(c.request, {}))
           return Result<Reply>(*problem);
         return s.list(c.ctx, "forwardings");
       },
       "Forwarding contracts", "funding"},
      {HttpMethod::kGet, "/api/v1/reports/funding", kReportReaders, funding_report,
       "Proof of use of funds for a year (?year=2021): posts planned vs filled, funds granted vs "
       "forwarded, per building block",
       "reports"},
  };
  return routes;
}

}  // namespace

void register_routes(http::Router& router, http::ApiDocs& docs, ReportService& service) {
  domain::RouteTable table(router, docs);
  table.add(
      HttpMethod::kGet, "/api/v1/reports/indicators",
      [&service](const HttpRequest& request) { return indicators(service, request); },
      kReportReaders,
      "Indicators of a period per town and organisation (?from=&to=&town=&organisation=&"
      "format=json|csv); aggregated, counts below 5 shown as \"<5\"; audited",
      "reports");
  table.add(
      HttpMethod::kGet, "/api/v1/reports/referral-gaps",
      [&service](const HttpRequest& request) {
        auto ctx = domain::context_of(request);
        if (!ctx) return domain::to_response(ctx.problem());
        if (auto problem = domain::unknown_parameter(request, {})) {
          return domain::to_response(*problem);
        }
        return domain::respond(service.referral_gaps(ctx.value()));
      },
      {"coordinator", "admin"},
      "Possible gaps in provision: declined, broken-off and long-waiting referrals by partner "
      "kind, service and town (counts only, below 5 shown as \"<5\")",
      "reports");
}

void register_funding_routes(http::Router& router, http::ApiDocs& docs, FundingService& service) {
  domain::add_routes(router, docs, service, funding_routes(), domain::Writes::kWriterBatch);
}

}  // namespace kim::reports
