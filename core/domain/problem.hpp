// Expected domain outcomes (invalid input, a transition not allowed, a stale version) are values:
// a Problem, mapped to an HTTP response in one place (to_response). Exceptions are for failures.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "kim/sdk/http.hpp"

namespace kim::domain {

struct Problem {
  int status = 400;
  std::string code;
  std::string message;
  std::string field;                 // JSON path of the offending input, if one
  nlohmann::json details = nullptr;  // e.g. allowed transitions, possible duplicates

  static Problem bad_request(std::string field, std::string message) {
    return {400, "invalid_field", std::move(message), std::move(field), nullptr};
  }
  static Problem not_found(std::string what) {
    return {404, "not_found", std::move(what) + " not found", {}, nullptr};
  }
  static Problem forbidden(std::string message) {
    return {403, "forbidden", std::move(message), {}, nullptr};
  }
  static Problem conflict(std::string code, std::string message) {
    return {409, std::move(code), std::move(message), {}, nullptr};
  }
  static Problem unprocessable(std::string code, std::string message) {
    return {422, std::move(code), std::move(message), {}, nullptr};
  }
};

// The one mapping from Problem to the API's error shape.
sdk::HttpResponse to_response(const Problem& problem);

// Carries a Problem out of a write job so the job's savepoint rolls back; services catch it and
// return the Problem as a value.
class ProblemError : public std::runtime_error {
 public:
  explicit ProblemError(Problem problem)
      : std::runtime_error(problem.message), problem_(std::move(problem)) {}
  const Problem& problem() const { return problem_; }

 private:
  Problem problem_;
};

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}            // NOLINT: implicit for `return value;`
  Result(Problem problem) : value_(std::move(problem)) {}  // NOLINT
  explicit operator bool() const { return std::holds_alternative<T>(value_); }
  T& value() { return std::get<T>(value_); }
  const T& value() const { return std::get<T>(value_); }
  const Problem& problem() const { return std::get<Problem>(value_); }

 private:
  std::variant<T, Problem> value_;
};

inline sdk::HttpResponse to_response(const Problem& problem) {
  nlohmann::json error = {{"code", problem.code}, {"message", problem.message}};
  if (!problem.field.empty()) error["field"] = problem.field;
  if (!problem.details.is_null()) error["details"] = problem.details;
  return sdk::HttpResponse::json(problem.status, {{"error", error}});
}

}  // namespace kim::domain
