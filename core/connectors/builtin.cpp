// The connector types that ship with the host. Each transport lives in its own file and
// exports its sdk::ConnectorType; this is the one list of them.
#include "connectors/http_transport.hpp"
#include "connectors/instances.hpp"

namespace kim::connectors {

void register_builtin_types(TypeRegistry& types) {
  (void)types;  // the transports ("http", "file_drop") are added here as they land
  types.add("http", http_transport_type(), "host");
}

}  // namespace kim::connectors
