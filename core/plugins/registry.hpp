// A named registry for one extension kind (connector types, report providers …), after Envoy's
// factory registry: the host owns it, names are unique, and every entry remembers its owner.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kim::plugins {

template <class T>
class Registry {
 public:
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Throws std::invalid_argument when the name is taken; says by whom.
  void add(const std::string& name, T value, const std::string& owner) {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(name); it != entries_.end()) {
      throw std::invalid_argument(kind_ + " \"" + name + "\" is already registered by " +
                                  it->second.owner);
    }
    entries_.emplace(name, Entry{std::move(value), owner});
  }

  std::optional<std::string> owner_of(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    return it->second.owner;
  }

  std::optional<T> find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    return it->second.value;
  }

  std::vector<std::string> names_of(const std::string& owner) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> names;
    for (const auto& [name, entry] : entries_) {
      if (entry.owner == owner) names.push_back(name);
    }
    return names;
  }

  void clear() {
    std::lock_guard lock(mutex_);
    entries_.clear();
  }

 private:
  struct Entry {
    T value;
    std::string owner;
  };
  std::string kind_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace kim::plugins
