#pragma once
// Real PostgreSQL and MariaDB servers for integration tests, from the Debian packages, each in
// its own temporary directory on a free loopback port, stopped when the object goes away.
// A missing package fails the test with the package's name; nothing is skipped silently.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace tp::testing {

// Runs a command to completion; returns its exit code and appends its output to *output.
int runCommand(const std::vector<std::string>& argv, std::string* output = nullptr);

uint16_t freeLoopbackPort();

class DatabaseServer {
 public:
  virtual ~DatabaseServer() = default;
  virtual config::DbConfig dbConfig() const = 0;
  virtual void stop() = 0;
  virtual void start() = 0;  // again, same port and data
  virtual std::string name() const = 0;
};

class PostgresServer : public DatabaseServer {
 public:
  // With `tls`, the server also accepts TLS with a self-signed certificate made for the test.
  // Tests run with fsync off; `durable` keeps PostgreSQL's default (benchmarks).
  explicit PostgresServer(bool tls = false, bool durable = false);
  ~PostgresServer() override;
  config::DbConfig dbConfig() const override;
  void stop() override;
  void start() override;
  std::string name() const override { return "postgres"; }

 private:
  std::vector<std::string> asPostgres(std::vector<std::string> argv) const;

  TempDir dir_;
  uint16_t port_ = 0;
  bool tls_ = false;
  bool durable_ = false;
  bool running_ = false;
};

class MariaDbServer : public DatabaseServer {
 public:
  MariaDbServer();
  ~MariaDbServer() override;
  config::DbConfig dbConfig() const override;
  void stop() override;
  void start() override;
  std::string name() const override { return "mysql"; }

 private:
  TempDir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> server_;
};

class SqliteFile : public DatabaseServer {
 public:
  SqliteFile();
  config::DbConfig dbConfig() const override;
  void stop() override;  // hides a table the cache reads
  void start() override;
  std::string name() const override { return "sqlite"; }

 private:
  TempDir dir_;
};

// "sqlite", "postgres" or "mysql".
std::unique_ptr<DatabaseServer> startDatabase(const std::string& driver);

}  // namespace tp::testing
