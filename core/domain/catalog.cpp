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

const Vocabulary& partner_kinds() {
  static const Vocabulary values = {"town",
                                    "jobcenter",
                                    "employment_agency",
                                    "foreigners_authority",
                                    "naturalisation_authority",
                                    "youth_office",
                                    "social_office",
                                    "school_office",
                                    "counselling_service",
                                    "language_course_provider",
                                    "adult_education_centre",
                                    "chamber",
                                    "employer",
                                    "sports",
                                    "volunteers",
                                    "migrant_organisation",
                                    "business_development",
                                    "coordinating_office",
                                    "other"};
  return values;
}

const Vocabulary& legal_domains() {
  static const Vocabulary values = {"sgb2",    "sgb3",     "sgb8", "sgb12",
                                    "asylblg", "aufenthg", "stag", "none"};
  return values;
}

bool has_own_case_management(std::string_view legal_domain) {
  return legal_domain == "sgb2" || legal_domain == "sgb3" || legal_domain == "sgb8";
}

const Vocabulary& services() {
  static const Vocabulary values = {"integration_course",
                                    "language_course",
                                    "job_language_course",
                                    "recognition_counselling",
                                    "migration_counselling",
                                    "refugee_counselling",
                                    "youth_migration_service",
                                    "integration_agency",
                                    "welcome_guidance",
                                    "sgb2_integration_services",
                                    "sgb2_benefits",
                                    "sgb3_placement",
                                    "vocational_guidance",
                                    "vocational_training",
                                    "childcare_place",
                                    "youth_welfare_support",
                                    "social_assistance",
                                    "asylum_seeker_benefits",
                                    "housing_advice",
                                    "residence_matters",
                                    "residence_regularisation",
                                    "naturalisation",
                                    "school_enrolment",
                                    "education_counselling",
                                    "business_start_up",
                                    "employment",
                                    "sports_participation",
                                    "volunteer_mentoring",
                                    "migrant_community_support",
                                    "health_care_access",
                                    "other"};
  return values;
}

const Vocabulary& data_categories() {
  static const Vocabulary values = {"identity",       "contact",        "residence_status",
                                    "education_work", "language_level", "health",
                                    "family"};
  return values;
}

bool is_special_category(std::string_view category) {
  return category == "health";
}

const Vocabulary& purposes() {
  static const Vocabulary values = {"referral", "joint_case_planning", "outcome_feedback"};
  return values;
}

const Vocabulary& consent_forms() {
  static const Vocabulary values = {"written", "electronic"};
  return values;
}

const Vocabulary& agreement_statuses() {
  static const Vocabulary values = {"draft", "signed", "expired", "terminated"};
  return values;
}

const Vocabulary& referral_statuses() {
  static const Vocabulary values = {"draft",       "sent",      "accepted", "declined",
                                    "in_progress", "completed", "cancelled"};
  return values;
}

Vocabulary next_referral_statuses(std::string_view from) {
  if (from == "draft") return {"sent", "cancelled"};
  if (from == "sent") return {"accepted", "declined", "cancelled"};
  if (from == "accepted") return {"in_progress", "cancelled"};
  if (from == "in_progress") return {"completed", "cancelled"};
  return {};  // declined, completed, cancelled are final
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
