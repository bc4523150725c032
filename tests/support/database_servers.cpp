#include "support/database_servers.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace tp::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPostgresBin = "/usr/lib/postgresql/15/bin";
constexpr const char* kUser = "tp";
constexpr const char* kPassword = "tp-secret 'quoted'";
constexpr const char* kDatabase = "lens";

void requireFile(const std::string& path, const std::string& package) {
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(path + " not found: install the Debian package " + package +
                             " (scripts/install-deps.sh)");
  }
}

config::DbConfig serverDbConfig(config::DbDriver driver, uint16_t port) {
  config::DbConfig config;
  config.driver = driver;
  config.host = "127.0.0.1";
  config.port = port;
  config.user_name = kUser;
  config.password = kPassword;
  config.db_name = kDatabase;
  config.timeout = 5s;
  return config;
}

void check(int code, const std::string& what, const std::string& output) {
  if (code != 0) {
    throw std::runtime_error(what + " failed (exit " + std::to_string(code) + "): " + output);
  }
}

}  // namespace

int runCommand(const std::vector<std::string>& argv, std::string* output) {
  ChildProcess process(argv.front(), {argv.begin() + 1, argv.end()});
  const auto code = process.waitForExit(120s);
  if (output != nullptr) *output += process.output();
  return code.value_or(-1);
}

uint16_t freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// PostgreSQL refuses to run as root: as root, every server command runs as the package's
// postgres user.
std::vector<std::string> PostgresServer::asPostgres(std::vector<std::string> argv) const {
  if (::geteuid() != 0) return argv;
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

PostgresServer::PostgresServer(bool tls, bool durable)
    : dir_("tp-postgres-"), port_(freeLoopbackPort()), tls_(tls), durable_(durable) {
  requireFile(std::string(kPostgresBin) + "/initdb", "postgresql");
  if (tls_) {
    requireFile("/usr/bin/openssl", "openssl");
    std::string output;
    check(runCommand({"/usr/bin/openssl", "req", "-new", "-x509", "-nodes", "-days", "1", "-subj",
                      "/CN=127.0.0.1", "-keyout", (dir_ / "server.key").string(), "-out",
                      (dir_ / "server.crt").string()},
                     &output),
          "openssl", output);
    std::filesystem::permissions(dir_ / "server.key", std::filesystem::perms::owner_read |
                                                          std::filesystem::perms::owner_write);
  }
  if (::geteuid() == 0)
    check(runCommand({"/bin/chown", "-R", "postgres:postgres", dir_.path()}), "chown", "");
  std::string output;
  const std::string password_file = (dir_ / "pwfile").string();
  check(runCommand({"/bin/sh", "-c", "printf '%s' 'postgres' > " + password_file}), "pwfile", "");
  if (::geteuid() == 0) runCommand({"/bin/chown", "postgres:postgres", password_file});
  check(runCommand(asPostgres({std::string(kPostgresBin) + "/initdb", "-D", dir_ / "data", "-U",
                               "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                               "--pwfile=" + password_file, "-E", "UTF8", "--no-locale"}),
                   &output),
        "initdb", output);
  start();
  output.clear();
  const std::string create_user =
      std::string("CREATE USER ") + kUser + " PASSWORD '" + "tp-secret ''quoted''" + "'";
  check(runCommand(asPostgres({std::string(kPostgresBin) + "/psql", "-h", dir_.path().string(),
                               "-p", std::to_string(port_), "-U", "postgres", "-v",
                               "ON_ERROR_STOP=1", "-c", create_user, "-c",
                               std::string("CREATE DATABASE ") + kDatabase + " OWNER " + kUser}),
                   &output),
        "psql create user", output);
}

PostgresServer::~PostgresServer() { stop(); }

void PostgresServer::start() {
  if (running_) return;
  std::string output;
  check(
      runCommand(
          asPostgres({std::string(kPostgresBin) + "/pg_ctl", "-D", dir_ / "data", "-l",
                      dir_ / "log", "-w", "-t", "60", "-o",
                      "-p " + std::to_string(port_) + " -k " + dir_.path().string() +
                          " -c listen_addresses=127.0.0.1" + (durable_ ? "" : " -c fsync=off") +
                          (tls_ ? " -c ssl=on -c ssl_cert_file=" + (dir_ / "server.crt").string() +
                                      " -c ssl_key_file=" + (dir_ / "server.key").string()
                                : std::string()),
                      "start"}),
          &output),
      "pg_ctl start", output);
  running_ = true;
}

void PostgresServer::stop() {
  if (!running_) return;
  runCommand(asPostgres({std::string(kPostgresBin) + "/pg_ctl", "-D", dir_ / "data", "-m",
                         "immediate", "-w", "stop"}));
  running_ = false;
}

config::DbConfig PostgresServer::dbConfig() const {
  return serverDbConfig(config::DbDriver::kPostgres, port_);
}

MariaDbServer::MariaDbServer() : dir_("tp-mariadb-"), port_(freeLoopbackPort()) {
  requireFile("/usr/sbin/mariadbd", "mariadb-server");
  std::string output;
  check(runCommand(
            {"/usr/bin/mariadb-install-db", "--user=root", "--datadir=" + (dir_ / "data").string(),
             "--skip-test-db", "--auth-root-authentication-method=socket"},
            &output),
        "mariadb-install-db", output);
  start();
  output.clear();
  const std::string sql = std::string("CREATE DATABASE ") + kDatabase + "; CREATE USER '" + kUser +
                          "'@'127.0.0.1' IDENTIFIED BY 'tp-secret \\'quoted\\''; GRANT ALL ON " +
                          kDatabase + ".* TO '" + kUser + "'@'127.0.0.1';";
  check(
      runCommand({"/usr/bin/mariadb", "--socket=" + (dir_ / "sock").string(), "-uroot", "-e", sql},
                 &output),
      "mariadb create user", output);
}

MariaDbServer::~MariaDbServer() { stop(); }

void MariaDbServer::start() {
  if (server_) return;
  server_ = std::make_unique<ChildProcess>(
      "/usr/sbin/mariadbd",
      std::vector<std::string>{
          "--no-defaults", "--user=root", "--datadir=" + (dir_ / "data").string(),
          "--socket=" + (dir_ / "sock").string(), "--port=" + std::to_string(port_),
          "--bind-address=127.0.0.1", "--pid-file=" + (dir_ / "pid").string(), "--skip-log-bin",
          "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2"});
  if (!server_->waitForOutput("ready for connections", 60s)) {
    const std::string output = server_->output();
    server_.reset();
    throw std::runtime_error("mariadbd did not start: " + output);
  }
}

void MariaDbServer::stop() {
  if (!server_) return;
  server_->signal(SIGKILL);  // an outage, not a clean shutdown
  server_->waitForExit(30s);
  server_.reset();
}

config::DbConfig MariaDbServer::dbConfig() const {
  return serverDbConfig(config::DbDriver::kMysql, port_);
}

SqliteFile::SqliteFile() : dir_("tp-sqlite-") { requireFile("/usr/bin/sqlite3", "sqlite3"); }

config::DbConfig SqliteFile::dbConfig() const {
  config::DbConfig config;
  config.driver = config::DbDriver::kSqlite;
  config.path = (dir_ / "data" / "lens.db").string();
  config.timeout = 2s;
  return config;
}

// SQLite has no server to stop; hiding a table the cache reads makes every refresh fail the way
// an unreachable database does, and bringing it back lets refreshes recover.
void SqliteFile::stop() {
  std::string output;
  check(runCommand(
            {"/usr/bin/sqlite3", dbConfig().path, "ALTER TABLE gpu_pods RENAME TO gpu_pods_away"},
            &output),
        "sqlite3 rename", output);
}

void SqliteFile::start() {
  std::string output;
  check(runCommand(
            {"/usr/bin/sqlite3", dbConfig().path, "ALTER TABLE gpu_pods_away RENAME TO gpu_pods"},
            &output),
        "sqlite3 rename", output);
}

std::unique_ptr<DatabaseServer> startDatabase(const std::string& driver) {
  if (driver == "postgres") return std::make_unique<PostgresServer>();
  if (driver == "mysql") return std::make_unique<MariaDbServer>();
  return std::make_unique<SqliteFile>();
}

}  // namespace tp::testing
