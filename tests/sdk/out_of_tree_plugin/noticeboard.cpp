// Built by tests/sdk/out_of_tree_test.sh against the installed SDK only.
#include <kim/sdk/sdk.hpp>

namespace {

constexpr const char* kSchema = R"json({
  "type": "object",
  "properties": {"town": {"type": "string", "default": "Emsdetten"}}
})json";

class Noticeboard final : public kim::sdk::Plugin {
 public:
  void load(kim::sdk::PluginHost& host) override {
    town_ = host.config().at("town").get<std::string>();
    host.add_route(kim::sdk::HttpMethod::kGet, "/notices", [this](const kim::sdk::HttpRequest&) {
      return kim::sdk::HttpResponse::json(200,
                                          {{"town", town_}, {"notices", nlohmann::json::array()}});
    });
    host.subscribe("plugin.started", [](const kim::sdk::Event&) {});
  }

 private:
  std::string town_;
};

}  // namespace

KIM_PLUGIN(Noticeboard, "noticeboard", "0.3.0", "Out-of-tree example: a town noticeboard", kSchema)
