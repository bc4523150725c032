#pragma once
// What the storage queries share to build statements whose parameters vary in number:
// placeholders that bind by position on every backend, and a binder that keeps the bound values.

#include <soci/soci.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "common/strings.h"
#include "storage/dialect.h"

namespace tp::storage {

// The next positional parameter. SQLite looks every named parameter up in a list of all of them
// when it compiles the statement (quadratic in a 500-row insert), and one name used twice is one
// parameter there; "?" is bound by position like the rest. SOCI's MySQL backend knows only
// names. PostgreSQL types a parameter it cannot infer (in a UNION, say) as text: `postgres_cast`.
inline std::string placeholder(Driver driver, size_t& next, const char* postgres_cast = nullptr) {
  std::string name = driver == Driver::kSqlite ? std::string("?") : common::concat(":p", next++);
  if (driver != Driver::kPostgres || postgres_cast == nullptr) return name;
  return common::concat("CAST(", name, " AS ", postgres_cast, ")");
}

// The values bound to one statement, in placeholder order. SOCI binds by reference, so each
// converted value must stay put until the statement is done: deques never move their elements.
class Binder {
 public:
  explicit Binder(soci::statement& statement) : statement_(statement) {}

  // `value` must outlive the statement.
  void text(const std::string& value) { statement_.exchange(soci::use(value)); }
  void ownText(std::string value) {
    texts_.push_back(std::move(value));
    statement_.exchange(soci::use(texts_.back()));
  }
  void optionalText(std::optional<std::string> value) {
    indicators_.push_back(value ? soci::i_ok : soci::i_null);
    texts_.push_back(std::move(value).value_or(""));
    statement_.exchange(soci::use(texts_.back(), indicators_.back()));
  }
  void integer(int64_t value) {
    integers_.push_back(value);
    statement_.exchange(soci::use(integers_.back()));
  }
  void optionalInteger(std::optional<int64_t> value) {
    indicators_.push_back(value ? soci::i_ok : soci::i_null);
    integers_.push_back(value.value_or(0));
    statement_.exchange(soci::use(integers_.back(), indicators_.back()));
  }

 private:
  soci::statement& statement_;
  std::deque<std::string> texts_;
  std::deque<long long> integers_;
  std::deque<soci::indicator> indicators_;
};

// Prepares `query` on `statement` once its values (and any intos) are exchanged.
inline void prepare(soci::statement& statement, const std::string& query) {
  statement.alloc();
  statement.prepare(query);
  statement.define_and_bind();
}

// Runs `query` once with the values `bind` adds; returns the rows it affected.
template <typename Bind>
long long execute(soci::session& sql, const std::string& query, Bind bind) {
  soci::statement statement(sql);
  Binder binder(statement);
  bind(binder);
  prepare(statement, query);
  statement.execute(true);
  return statement.get_affected_rows();
}

}  // namespace tp::storage
