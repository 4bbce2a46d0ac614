// Shared inside core/steering only: the names every file uses and who may see or run a body.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "domain/prelude.hpp"
#include "domain/service_support.hpp"
#include "domain/validation.hpp"
#include "store/sqlite.hpp"

namespace kim::steering {

using namespace domain::prelude;

constexpr std::size_t kNameMax = 200;
constexpr std::size_t kTextMax = 4000;
constexpr std::size_t kMinutesMax = 20000;

const domain::Vocabulary& body_kinds();  // monthly_working_group, steering_group, thematic_…
// The statuses of a challenge: open, clustered, assigned, proposal, escalated, closed.
const domain::Vocabulary& challenge_statuses();

// Who may do what with a body: admins and the coordinators of the convening office or of a
// member partner (coordinating offices carry the same slug as partner and organisation) run it;
// member users read it; for everybody else it does not exist (404, like a case).
enum class BodyAccess { kNone, kRead, kWrite };
BodyAccess body_access(Connection& db, const sdk::Principal& who, const json& body_row);

// The body's row, checked: 404 when unknown or unseen, 403 (a security note) when `write` is
// needed and the caller only reads.
json load_body(Connection& db, const Context& ctx, const std::string& id, bool write);
// {id, name, kind} of a body, for the objects that name one.
json body_ref(Connection& db, const SqlValue& body_id);

// Only coordinators and admins run bodies, meetings and challenges: others get 403 (a security
// note) before anything is read.
void require_runner(const Context& ctx);

// The id of an enabled user called `name`, or 0.
std::int64_t enabled_user(Connection& db, const std::string& name);

}  // namespace kim::steering
