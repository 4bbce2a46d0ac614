// HTTP routes of the case-management core, described for the OpenAPI document.
#pragma once

#include "cases/service.hpp"
#include "http/api_docs.hpp"
#include "http/router.hpp"

namespace kim::cases {

void register_routes(http::Router& router, http::ApiDocs& docs, CaseService& service,
                     store::Store& store);

}  // namespace kim::cases
