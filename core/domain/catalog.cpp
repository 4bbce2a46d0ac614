#include "domain/catalog.hpp"

#include <algorithm>

namespace kim::domain {

const Vocabulary& towns() {
  static const Vocabulary values = {
      "Altenberge", "Emsdetten", "Greven",       "Hörstel",     "Hopsten",       "Horstmar",
      "Ibbenbüren", "Ladbergen", "Laer",         "Lengerich",   "Lienen",        "Lotte",
      "Metelen",    "Mettingen", "Neuenkirchen", "Nordwalde",   "Ochtrup",       "Recke",
      "Rheine",     "Saerbeck",  "Steinfurt",    "Tecklenburg", "Westerkappeln", "Wettringen"};
  return values;
}

const Vocabulary& life_domains() {
  static const Vocabulary values = {"residence_status", "language",
                                    "school_education", "vocational_training_work",
                                    "recognition",      "housing",
                                    "health",           "family_childcare",
                                    "income_benefits",  "social_participation"};
  return values;
}

const Vocabulary& need_levels() {
  static const Vocabulary values = {"none", "low", "medium", "high"};
  return values;
}

const Vocabulary& residence_statuses() {
  static const Vocabulary values = {
      "residence_permit", "settlement_permit", "duldung", "aufenthaltsgestattung",
      "eu_free_movement", "naturalised",       "other"};
  return values;
}

const Vocabulary& genders() {
  static const Vocabulary values = {"female", "male", "diverse", "unspecified"};
  return values;
}

const Vocabulary& phases() {
  static const Vocabulary values = {"access",  "intake",     "assessment",   "planning",
                                    "linking", "monitoring", "reassessment", "closed"};
  return values;
}

const Vocabulary& closure_reasons() {
  static const Vocabulary values = {
      "goals_reached", "moved_away", "referred_to_other_case_management",
      "no_contact",    "declined",   "other"};
  return values;
}

const Vocabulary& goal_statuses() {
  static const Vocabulary values = {"open", "achieved", "partly_achieved", "dropped"};
  return values;
}

const Vocabulary& note_kinds() {
  static const Vocabulary values = {"meeting", "phone", "home_visit", "accompaniment", "other"};
  return values;
}

const Vocabulary& organisation_kinds() {
  static const Vocabulary values = {"coordinating_office", "welfare_organisation", "municipality",
                                    "authority", "other"};
  return values;
}

const Vocabulary& household_relations() {
  static const Vocabulary values = {"spouse", "child", "parent", "sibling", "other"};
  return values;
}

const Vocabulary& programmes() {
  static const Vocabulary values = {"gemeinsam_klappts",
                                    "sgb2_case_management",
                                    "sgb3_case_management",
                                    "youth_migration_service",
                                    "youth_welfare_case_management",
                                    "migration_counselling_adults",
                                    "refugee_counselling",
                                    "other"};
  return values;
}

bool programme_excludes_kim(std::string_view programme) {
  // "Gemeinsam klappt's / Durchstarten" participation management funds the same support: a person
  // in it must not also be a KIM case-management case (DOMAIN.md, no double funding).
  return programme == "gemeinsam_klappts";
}

bool contains(const Vocabulary& vocabulary, std::string_view value) {
  return std::find(vocabulary.begin(), vocabulary.end(), value) != vocabulary.end();
}

std::string join(const Vocabulary& vocabulary) {
  std::string text;
  for (const auto& value : vocabulary)
    text += (text.empty() ? "" : ", ") + value;
  return text;
}

Vocabulary next_phases(std::string_view from) {
  if (from == "access") return {"intake"};
  if (from == "intake") return {"assessment"};
  if (from == "assessment") return {"planning"};
  if (from == "planning") return {"linking", "monitoring"};
  if (from == "linking") return {"monitoring"};
  if (from == "monitoring") return {"reassessment", "linking"};
  if (from == "reassessment") return {"planning"};
  return {};
}

}  // namespace kim::domain
