// Everything a plugin needs: include this one header.
#pragma once

#include "kim/sdk/connector.hpp"
#include "kim/sdk/database.hpp"
#include "kim/sdk/dates.hpp"
#include "kim/sdk/events.hpp"
#include "kim/sdk/host.hpp"
#include "kim/sdk/http.hpp"
#include "kim/sdk/json.hpp"
#include "kim/sdk/personal_data.hpp"
#include "kim/sdk/plugin.hpp"
#include "kim/sdk/reports.hpp"
#include "kim/sdk/rules.hpp"
#include "kim/sdk/version.hpp"
