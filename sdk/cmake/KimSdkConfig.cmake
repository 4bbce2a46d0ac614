# find_package(KimSdk) — the KIM Platform plugin SDK.
include(CMakeFindDependencyMacro)
find_dependency(Boost 1.81)
find_dependency(nlohmann_json 3.11)
find_dependency(spdlog)
include(${CMAKE_CURRENT_LIST_DIR}/KimSdkTargets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/KimPlugin.cmake)
