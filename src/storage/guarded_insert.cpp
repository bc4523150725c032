#include "storage/guarded_insert.h"

#include "common/strings.h"
#include "storage/statement.h"

namespace tp::storage {
namespace {

// Statement suffix that turns an INSERT into insert-if-absent on any unique key.
std::string_view ignoreDuplicates(Driver driver) {
  return driver == Driver::kMysql ? " ON DUPLICATE KEY UPDATE id = id" : " ON CONFLICT DO NOTHING";
}

}  // namespace

std::string guardedInsert(Driver driver, std::string_view table,
                          std::span<const InsertColumn> columns, std::string_view key_condition,
                          size_t rows) {
  std::string names;
  std::string selected;
  for (const InsertColumn& column : columns) {
    names += common::concat(names.empty() ? "" : ", ", column.name);
    selected += common::concat(selected.empty() ? "" : ", ", "v.", column.name);
  }
  std::string values;
  size_t next = 0;
  for (size_t row = 0; row < rows; ++row) {
    values += row == 0 ? "SELECT " : " UNION ALL SELECT ";
    for (size_t i = 0; i < columns.size(); ++i) {
      values += i == 0 ? "" : ", ";
      values += placeholder(driver, next, columns[i].postgres_cast);
      if (row == 0) values += common::concat(" AS ", columns[i].name);
    }
  }
  return common::concat("INSERT INTO ", table, " (", names, ") SELECT ", selected, " FROM (",
                        values, ") v WHERE NOT EXISTS (SELECT 1 FROM ", table, " t WHERE ",
                        key_condition, ")", ignoreDuplicates(driver));
}

}  // namespace tp::storage
