// The participants of `kim demo seed`: about 300 persons across the county's towns with a case
// each (planned by demo_plan.hpp, written through the case service as their case managers), and
// a few in "Gemeinsam klappt's" without a KIM case.
#pragma once

#include <map>
#include <string>

#include "app/demo_network.hpp"

namespace kim::app::demo {

void write_population(const DemoData& data, store::Store& store, Services& services,
                      Network& network, std::map<std::string, Office>& offices, std::uint64_t seed,
                      DemoSummary& summary, sys_days today);

}  // namespace kim::app::demo
