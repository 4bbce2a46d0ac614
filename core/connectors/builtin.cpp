// The connector types that ship with the host. Each transport lives in its own file and
// exports its sdk::ConnectorType; this is the one list of them.
#include "connectors/file_drop.hpp"
#include "connectors/http_transport.hpp"
#include "connectors/instances.hpp"

namespace kim::connectors {

void register_builtin_types(TypeRegistry& types) {
  types.add("file_drop", file_drop_type(), "host");
  types.add("http", http_transport_type(), "host");
}

}  // namespace kim::connectors
