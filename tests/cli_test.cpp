// End-to-end tests of the `ganloss` command-line tool: the built binary runs as a child
// process with stdin, stdout and stderr redirected to files, and the tests check its exit
// status, its JSON (parsed by a small strict parser below) and its one-line error reports.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ganloss/ganloss.h"
#include "sanitized.hpp"

#ifndef GANLOSS_CLI_PATH
#error "GANLOSS_CLI_PATH must name the ganloss binary"
#endif

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// A strict JSON reader, enough to prove the output is valid JSON and to pick values from it.

struct JsonMember;

struct Json {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<Json> items;
  // A vector of a type that is still incomplete here (std::pair<std::string, Json> is not
  // allowed: pair needs both members complete).
  std::vector<JsonMember> members;

  bool has(const std::string& key) const;
  const Json& operator[](const std::string& key) const;
};

struct JsonMember {
  JsonMember(std::string k, Json v) : first(std::move(k)), second(std::move(v)) {}
  std::string first;
  Json second;
};

bool Json::has(const std::string& key) const {
  for (const auto& m : members) {
    if (m.first == key) return true;
  }
  return false;
}

const Json& Json::operator[](const std::string& key) const {
  for (const auto& m : members) {
    if (m.first == key) return m.second;
  }
  throw std::runtime_error("no key " + key);
}

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}

  Json document() {
    Json v = value();
    skip_space();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("invalid JSON at offset " + std::to_string(i_) + ": " + what);
  }
  void skip_space() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool take(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }

  Json value() {
    skip_space();
    if (i_ >= s_.size()) fail("unexpected end");
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      v.type = Json::Type::object;
      if (take('}')) return v;
      do {
        skip_space();
        std::string key = string_body();
        expect(':');
        v.members.emplace_back(std::move(key), value());
      } while (take(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.type = Json::Type::array;
      if (take(']')) return v;
      do {
        v.items.push_back(value());
      } while (take(','));
      expect(']');
    } else if (c == '"') {
      v.type = Json::Type::string;
      v.string = string_body();
    } else if (literal("true")) {
      v.type = Json::Type::boolean;
      v.boolean = true;
    } else if (literal("false")) {
      v.type = Json::Type::boolean;
    } else if (literal("null")) {
      v.type = Json::Type::null;
    } else {
      v.type = Json::Type::number;
      v.number = number();
    }
    return v;
  }

  std::string string_body() {
    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      const char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u':
          if (i_ + 4 > s_.size()) fail("short \\u escape");
          out += static_cast<char>(std::stoi(s_.substr(i_, 4), nullptr, 16));
          i_ += 4;
          break;
        default:
          fail("bad escape");
      }
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }

  // The JSON number grammar exactly: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  double number() {
    const std::size_t begin = i_;
    auto digits = [&] {
      const std::size_t start = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
        ++i_;
      if (i_ == start) fail("expected digits");
      return i_ - start;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else {
      digits();
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      digits();
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      digits();
    }
    return std::strtod(s_.substr(begin, i_ - begin).c_str(), nullptr);
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

Json parse_json(const std::string& text) {
  return JsonParser(text).document();
}

// A JSON number, or one of the strings the tool uses for non-finite values.
double as_number(const Json& v) {
  if (v.type == Json::Type::number) return v.number;
  if (v.type == Json::Type::string) {
    if (v.string == "NaN") return NAN;
    if (v.string == "Infinity") return INFINITY;
    if (v.string == "-Infinity") return -INFINITY;
  }
  throw std::runtime_error("not a number: " + v.string);
}

// ---------------------------------------------------------------------------------------------
// Running the tool.

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("ganloss_cli_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    real_ = file("real.txt", "0 0\n");
    fake_ = file("fake.txt", "0\n");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string file(const std::string& name, const std::string& content) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

  // Runs the tool with `args`, feeding `input` on stdin.
  RunResult run(const std::vector<std::string>& args, const std::string& input = "") {
    const std::string in_path = file("stdin.txt", input);
    const std::string out_path = (dir_ / "stdout.txt").string();
    const std::string err_path = (dir_ / "stderr.txt").string();
    std::vector<std::string> storage = {GANLOSS_CLI_PATH};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : storage)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const int in_fd = open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    RunResult r;
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) {
      ADD_FAILURE() << "cannot open the redirection files in " << dir_;
      return r;
    }
    const pid_t pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(in_fd);
    close(out_fd);
    close(err_fd);
    if (pid < 0) {
      ADD_FAILURE() << "fork failed";
      return r;
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
      ADD_FAILURE() << "waitpid failed";
      return r;
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    return r;
  }

  // eval with --backend cpu (the result must not depend on whether a GPU is present), which
  // must succeed and print valid JSON.
  Json eval(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"eval", "--backend", "cpu"});
    const RunResult r = run(args, input);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    try {
      return parse_json(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.out;
      return Json{};
    }
  }

  fs::path dir_;
  std::string real_, fake_;  // valid inputs for the error tests
};

// A lower-case suite name, so that `ctest -R cli` selects these tests.
using cli = CliTest;

void expect_values(const Json& doc, const std::string& key, std::initializer_list<double> want,
                   double rel = 2e-7) {
  ASSERT_TRUE(doc.has(key)) << key;
  const Json& array = doc[key];
  ASSERT_EQ(array.type, Json::Type::array) << key;
  ASSERT_EQ(array.items.size(), want.size()) << key;
  std::size_t i = 0;
  for (const double w : want) {
    const double got = as_number(array.items[i]);
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(got)) << key << "[" << i << "]";
    } else if (std::isinf(w)) {
      EXPECT_EQ(got, w) << key << "[" << i << "]";
    } else {
      EXPECT_NEAR(got, w, rel * std::fabs(w) + 1e-30) << key << "[" << i << "]";
    }
    ++i;
  }
}

// A failed run: `code`, nothing on stdout, exactly one "ganloss: error:" line on stderr that
// contains `fragment`.
void expect_error(const RunResult& r, int code, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.rfind("ganloss: error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "'" << fragment << "' not in " << r.err;
}

const double kLn2 = std::log(2.0);

// ---------------------------------------------------------------------------------------------
// eval: closed forms.

TEST_F(cli, EvalNonsaturatingAtZero) {
  const Json j = eval({"--loss", "nonsaturating", "--real", file("r.txt", "0 0 0 0\n"), "--fake",
                       file("f.txt", "0\n0\n")});
  EXPECT_EQ(j["backend"].string, "cpu");
  EXPECT_EQ(j["dtype"].string, "f32");
  EXPECT_EQ(j["fp32_gradients"].type, Json::Type::boolean);
  EXPECT_FALSE(j["fp32_gradients"].boolean);
  expect_values(j, "d_loss", {2 * kLn2});
  expect_values(j, "d_loss_real", {kLn2});
  expect_values(j, "d_loss_fake", {kLn2});
  expect_values(j, "g_loss", {kLn2});
  expect_values(j, "grad_real", {-0.125, -0.125, -0.125, -0.125});
  expect_values(j, "grad_fake_d", {0.25, 0.25});
  expect_values(j, "grad_fake_g", {-0.25, -0.25});
  EXPECT_FALSE(j.has("loss_real"));
  EXPECT_FALSE(j.has("loss_fake_d"));
  EXPECT_FALSE(j.has("loss_fake_g"));
}

TEST_F(cli, EvalMinimaxGenerator) {
  // G = -sp(f): at 0, -ln 2 with gradient -sigmoid(0) / N.
  const Json j =
      eval({"--loss", "minimax", "--real", file("r.txt", "0"), "--fake", file("f.txt", "0 0")});
  expect_values(j, "g_loss", {-kLn2});
  expect_values(j, "grad_fake_g", {-0.25, -0.25});
  expect_values(j, "d_loss", {2 * kLn2});
}

TEST_F(cli, EvalHinge) {
  const Json j =
      eval({"--loss", "hinge", "--real", file("r.txt", "0.5 2"), "--fake", file("f.txt", "-2 0")});
  expect_values(j, "d_loss_real", {0.25});  // relu(1 - r): 0.5, 0
  expect_values(j, "d_loss_fake", {0.5});   // relu(1 + f): 0, 1
  expect_values(j, "d_loss", {0.75});
  expect_values(j, "g_loss", {1.0});  // -f
  expect_values(j, "grad_real", {-0.5, 0.0});
  expect_values(j, "grad_fake_d", {0.0, 0.5});
  expect_values(j, "grad_fake_g", {-0.5, -0.5});
}

TEST_F(cli, EvalHingeMargins) {
  const Json j = eval({"--loss", "hinge", "--margin-real", "2", "--margin-fake=0.5", "--real",
                       file("r.txt", "1"), "--fake", file("f.txt", "0")});
  expect_values(j, "d_loss_real", {1.0});
  expect_values(j, "d_loss_fake", {0.5});
}

TEST_F(cli, EvalWasserstein) {
  const Json j =
      eval({"--loss", "wasserstein", "--real", file("r.txt", "1 3"), "--fake", file("f.txt", "2")});
  expect_values(j, "d_loss_real", {-2.0});
  expect_values(j, "d_loss_fake", {2.0});
  expect_values(j, "d_loss", {0.0});
  expect_values(j, "g_loss", {-2.0});
  expect_values(j, "grad_real", {-0.5, -0.5});
  expect_values(j, "grad_fake_d", {1.0});
  expect_values(j, "grad_fake_g", {-1.0});
}

TEST_F(cli, EvalLeastSquares) {
  const std::string real = file("r.txt", "1 3");
  const std::string fake = file("f.txt", "0 2");
  const Json j = eval({"--loss", "least-squares", "--real", real, "--fake", fake});
  expect_values(j, "d_loss_real", {1.0});  // (r-1)^2/2: 0, 2
  expect_values(j, "d_loss_fake", {1.0});  // f^2/2: 0, 2
  expect_values(j, "g_loss", {0.5});       // (f-1)^2/2: 0.5, 0.5
  expect_values(j, "grad_real", {0.0, 1.0});
  expect_values(j, "grad_fake_d", {0.0, 1.0});
  expect_values(j, "grad_fake_g", {-0.5, 0.5});
  // Labels a (fake) = -1, b (real) = 1, c (G) = 0.
  const Json k =
      eval({"--loss", "least-squares", "--ls-labels", "-1,1,0", "--real", real, "--fake", fake});
  expect_values(k, "d_loss_fake", {2.5});  // (f+1)^2/2: 0.5, 4.5
  expect_values(k, "g_loss", {1.0});       // f^2/2: 0, 2
  expect_values(k, "grad_fake_g", {0.0, 1.0});
}

TEST_F(cli, EvalMixedKinds) {
  const Json j = eval({"--d-loss", "hinge", "--g-loss", "nonsaturating", "--real",
                       file("r.txt", "0"), "--fake", file("f.txt", "0")});
  expect_values(j, "d_loss", {2.0});
  expect_values(j, "g_loss", {kLn2});
  // --g-loss overrides --loss.
  const Json k = eval({"--loss", "wasserstein", "--g-loss", "least-squares", "--real",
                       file("r2.txt", "3"), "--fake", file("f2.txt", "3")});
  expect_values(k, "d_loss", {0.0});
  expect_values(k, "g_loss", {2.0});
}

TEST_F(cli, EvalLabelSmoothingAndGradScale) {
  // t sp(-r) + (1-t) sp(r) = ln 2 at 0; gradient (sigmoid(0) - t) / N * scale.
  const Json j = eval({"--loss", "nonsaturating", "--real-target", "0.9", "--grad-scale", "2",
                       "--real", file("r.txt", "0 0"), "--fake", file("f.txt", "0")});
  expect_values(j, "d_loss_real", {kLn2});
  expect_values(j, "grad_real", {-0.4, -0.4}, 1e-6);
  expect_values(j, "grad_fake_d", {1.0});
}

TEST_F(cli, EvalSegments) {
  const Json j = eval({"--loss", "wasserstein", "--segments", "2", "--real",
                       file("r.txt", "1 2 3 4"), "--fake", file("f.txt", "5 6")});
  expect_values(j, "d_loss_real", {-1.5, -3.5});
  expect_values(j, "d_loss_fake", {5.0, 6.0});
  expect_values(j, "g_loss", {-5.0, -6.0});
  expect_values(j, "d_loss", {3.5, 2.5});
  expect_values(j, "grad_real", {-0.5, -0.5, -0.5, -0.5});
  expect_values(j, "grad_fake_d", {1.0, 1.0});
}

TEST_F(cli, EvalReductionSumAndNone) {
  const std::string real = file("r.txt", "1 2");
  const std::string fake = file("f.txt", "3");
  const Json s =
      eval({"--loss", "wasserstein", "--reduction", "sum", "--real", real, "--fake", fake});
  expect_values(s, "d_loss_real", {-3.0});
  expect_values(s, "grad_real", {-1.0, -1.0});
  EXPECT_FALSE(s.has("loss_real"));
  const Json n =
      eval({"--loss", "wasserstein", "--reduction", "none", "--real", real, "--fake", fake});
  expect_values(n, "loss_real", {-1.0, -2.0});
  expect_values(n, "loss_fake_d", {3.0});
  expect_values(n, "loss_fake_g", {-3.0});
  expect_values(n, "d_loss_real", {-3.0});  // sums with none
  expect_values(n, "d_loss", {0.0});
  expect_values(n, "grad_real", {-1.0, -1.0});
}

TEST_F(cli, EvalReadsStandardInput) {
  const Json j =
      eval({"--loss", "nonsaturating", "--real", "-", "--fake", file("f.txt", "0")}, "0\n0\n");
  expect_values(j, "grad_real", {-0.25, -0.25});
  const Json k =
      eval({"--loss", "nonsaturating", "--real", file("r.txt", "0"), "--fake", "-"}, "0 0 0 0");
  expect_values(k, "grad_fake_d", {0.125, 0.125, 0.125, 0.125});
}

TEST_F(cli, EvalAcceptsMixedSeparators) {
  const Json j = eval({"--loss", "wasserstein", "--reduction", "none", "--real",
                       file("r.txt", "1,2, 3\t4\r\n,5\n\n+6,\n"), "--fake", file("f.txt", "1e0")});
  expect_values(j, "loss_real", {-1, -2, -3, -4, -5, -6});
}

TEST_F(cli, EvalNonFiniteAsStrings) {
  const Json j = eval({"--loss", "wasserstein", "--reduction", "none", "--real",
                       file("r.txt", "-INF 1"), "--fake", file("f.txt", "Infinity NaN")});
  expect_values(j, "loss_real", {INFINITY, -1.0});
  expect_values(j, "loss_fake_d", {INFINITY, NAN});
  expect_values(j, "loss_fake_g", {-INFINITY, NAN});
  expect_values(j, "d_loss_real", {INFINITY});
  expect_values(j, "g_loss", {NAN});
  // And as the exact strings, since JSON has no such numbers.
  const RunResult r = run({"eval", "--backend", "cpu", "--loss", "wasserstein", "--real",
                           file("r2.txt", "-inf"), "--fake", file("f2.txt", "inf")});
  EXPECT_NE(r.out.find("\"d_loss_real\": [\"Infinity\"]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"g_loss\": [\"-Infinity\"]"), std::string::npos) << r.out;
}

TEST_F(cli, EvalPrintsRoundTripDigits) {
  const RunResult r = run({"eval", "--backend", "cpu", "--loss", "wasserstein", "--grad-scale",
                           "0.1", "--real", file("r.txt", "0"), "--fake", file("f.txt", "0")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"grad_real\": [-0.100000001]"), std::string::npos) << r.out;
}

TEST_F(cli, EvalReferenceBackendAndDefaultBackend) {
  const std::string real = file("r.txt", "0");
  const std::string fake = file("f.txt", "0");
  RunResult r =
      run({"eval", "--backend", "reference", "--loss", "hinge", "--real", real, "--fake", fake});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_json(r.out)["backend"].string, "reference");
  r = run({"eval", "--loss", "hinge", "--real", real, "--fake", fake});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const bool cuda = ganloss_backend_available(GANLOSS_BACKEND_CUDA) == GANLOSS_STATUS_SUCCESS;
  EXPECT_EQ(parse_json(r.out)["backend"].string, cuda ? "cuda" : "cpu");
}

// A number of the tool's JSON as the f32 it printed: 9 significant digits identify an f32
// exactly, not a double.
float as_float(const Json& v) {
  return static_cast<float>(as_number(v));
}

// The first element of a JSON array, as that f32.
float first(const Json& doc, const std::string& key) {
  return as_float(doc[key].items.at(0));
}

TEST_F(cli, EvalHalfPrecisionAtZero) {
  // Every result is exactly representable in f16: the same numbers as f32.
  const Json j = eval({"--dtype", "f16", "--loss", "nonsaturating", "--real",
                       file("r.txt", "0 0 0 0"), "--fake", file("f.txt", "0 0")});
  EXPECT_EQ(j["dtype"].string, "f16");
  EXPECT_FALSE(j["fp32_gradients"].boolean);
  expect_values(j, "d_loss", {2 * kLn2});
  expect_values(j, "g_loss", {kLn2});
  expect_values(j, "grad_real", {-0.125, -0.125, -0.125, -0.125}, 0.0);
  expect_values(j, "grad_fake_d", {0.25, 0.25}, 0.0);
  expect_values(j, "grad_fake_g", {-0.25, -0.25}, 0.0);
}

TEST_F(cli, EvalHalfPrecisionRoundsLogitsAndGradients) {
  // 0.1 is stored as the f16 0.0999755859375 (1638 * 2^-14); the least-squares gradient
  // r - 1 = -0.9000244140625 is computed in f32 and stored as the nearest f16,
  // -0.89990234375 (1843 * 2^-11); the loss (r - 1)^2 / 2 stays f32, of the stored logit.
  const std::vector<std::string> args = {"--loss", "least-squares",   "--reduction",
                                         "none",   "--real",          file("r.txt", "0.1"),
                                         "--fake", file("f.txt", "0")};
  std::vector<std::string> f16 = args;
  f16.insert(f16.end(), {"--dtype", "f16"});
  const Json h = eval(f16);
  EXPECT_EQ(h["dtype"].string, "f16");
  const double stored = 0.0999755859375;
  EXPECT_EQ(first(h, "grad_real"), -0.89990234375f);
  expect_values(h, "loss_real", {(1 - stored) * (1 - stored) / 2});
  expect_values(h, "d_loss_real", {(1 - stored) * (1 - stored) / 2});
  // f32 keeps 0.1 (to f32 precision) and its gradient.
  const Json f = eval(args);
  EXPECT_EQ(first(f, "grad_real"), 0.1f - 1.0f);
  expect_values(f, "loss_real", {0.405});
}

TEST_F(cli, EvalBfloat16) {
  // 0.1 is stored as the bf16 0.10009765625 (205 * 2^-11); r - 1 = -0.89990234375 rounds to
  // the bf16 -0.8984375 (230 * 2^-8).
  const Json j = eval({"--dtype", "bf16", "--loss", "least-squares", "--reduction", "none",
                       "--real", file("r.txt", "0.1"), "--fake", file("f.txt", "0")});
  EXPECT_EQ(j["dtype"].string, "bf16");
  EXPECT_FALSE(j["fp32_gradients"].boolean);
  const double stored = 0.10009765625;
  EXPECT_EQ(first(j, "grad_real"), -0.8984375f);
  expect_values(j, "loss_real", {(1 - stored) * (1 - stored) / 2});
  expect_values(j, "grad_fake_d", {0.0}, 0.0);
  expect_values(j, "grad_fake_g", {-1.0}, 0.0);
}

TEST_F(cli, EvalFp32Gradients) {
  // The mean over 3 logits at 0: -sigmoid(0) / 3 = -1/6, which f16 stores as
  // -0.1666259765625 (1365 * 2^-13) and f32 as -0.16666667.
  const std::string real = file("r.txt", "0 0 0");
  const std::string fake = file("f.txt", "0");
  const Json h =
      eval({"--dtype", "f16", "--loss", "nonsaturating", "--real", real, "--fake", fake});
  EXPECT_FALSE(h["fp32_gradients"].boolean);
  for (const Json& g : h["grad_real"].items)
    EXPECT_EQ(as_float(g), -0.1666259765625f);
  const Json w = eval({"--dtype", "f16", "--fp32-gradients", "--loss", "nonsaturating", "--real",
                       real, "--fake", fake});
  EXPECT_EQ(w["dtype"].string, "f16");
  EXPECT_EQ(w["fp32_gradients"].type, Json::Type::boolean);
  EXPECT_TRUE(w["fp32_gradients"].boolean);
  ASSERT_EQ(w["grad_real"].items.size(), 3u);
  for (const Json& g : w["grad_real"].items)
    EXPECT_EQ(as_float(g), -0.5f / 3.0f);
  expect_values(w, "grad_fake_d", {0.5}, 0.0);
  expect_values(w, "d_loss", {2 * kLn2});
  // bf16 logits with f32 gradients: the unrounded r - 1 of the stored 0.10009765625.
  const Json b = eval({"--dtype", "bf16", "--fp32-gradients", "--loss", "least-squares", "--real",
                       file("r2.txt", "0.1"), "--fake", fake});
  EXPECT_TRUE(b["fp32_gradients"].boolean);
  EXPECT_EQ(first(b, "grad_real"), -0.89990234375f);
  // A flag: it takes no value.
  expect_error(
      run({"eval", "--fp32-gradients=1", "--loss", "hinge", "--real", real_, "--fake", fake_}), 2,
      "--fp32-gradients");
}

// ---------------------------------------------------------------------------------------------
// eval: weights, ragged segments, statistics, relativistic kinds.

// The sum of a JSON array.
double sum_of(const Json& doc, const std::string& key) {
  double total = 0.0;
  for (const Json& v : doc[key].items)
    total += as_number(v);
  return total;
}

TEST_F(cli, EvalWeights) {
  // Wasserstein D real term -w r: weights 1, 0, 2 on 1, 2, 4 give sum w r = 9.
  const std::vector<std::string> args = {
      "--loss", "wasserstein",      "--real",         file("r.txt", "1 2 4"),
      "--fake", file("f.txt", "3"), "--real-weights", file("w.txt", "1\n0\n2\n")};
  std::vector<std::string> mean = args;
  const Json m = eval(mean);
  expect_values(m, "d_loss_real", {-3.0});  // -9 / (sum w = 3)
  expect_values(m, "grad_real", {-1.0 / 3, 0.0, -2.0 / 3});
  expect_values(m, "d_loss_fake", {3.0});  // unweighted
  std::vector<std::string> nonzero = args;
  nonzero.insert(nonzero.end(), {"--reduction", "mean-nonzero"});
  const Json z = eval(nonzero);
  expect_values(z, "d_loss_real", {-4.5});  // -9 / (2 nonzero weights)
  expect_values(z, "grad_real", {-0.5, 0.0, -1.0});
  std::vector<std::string> none = args;
  none.insert(none.end(), {"--reduction", "none"});
  const Json n = eval(none);
  expect_values(n, "loss_real", {-1.0, 0.0, -8.0});  // terms times their weights
  expect_values(n, "d_loss_real", {-9.0});
  expect_values(n, "grad_real", {-1.0, 0.0, -2.0});
  // Integer and decimal weights alike, on the fake side too.
  const Json f = eval({"--loss", "wasserstein", "--real", file("r2.txt", "1"), "--fake",
                       file("f2.txt", "1 3"), "--fake-weights", file("w2.txt", "0.5, 1.5")});
  expect_values(f, "d_loss_fake", {2.5});  // (0.5 + 4.5) / 2
  expect_values(f, "grad_fake_d", {0.25, 0.75});
}

TEST_F(cli, EvalRaggedOffsets) {
  // Segments [0, 2), [2, 2) (empty) and [2, 4) of the real logits; [0, 1), [1, 1), [1, 3) of
  // the fake ones.
  const std::string real = file("r.txt", "1 2 3 4");
  const std::string fake = file("f.txt", "5 6 7");
  const std::string real_offsets = file("ro.txt", "0 2 2 4");
  const std::string fake_offsets = file("fo.txt", "0,1,1,3");
  const Json j = eval({"--loss", "wasserstein", "--real", real, "--fake", fake, "--real-offsets",
                       real_offsets, "--fake-offsets", fake_offsets, "--stats"});
  expect_values(j, "d_loss_real", {-1.5, 0.0, -3.5});
  expect_values(j, "d_loss_fake", {5.0, 0.0, 6.5});
  expect_values(j, "d_loss", {3.5, 0.0, 3.0});
  expect_values(j, "g_loss", {-5.0, 0.0, -6.5});
  expect_values(j, "grad_real", {-0.5, -0.5, -0.5, -0.5});
  expect_values(j, "grad_fake_d", {1.0, 0.5, 0.5});
  expect_values(j["stats"], "frac_real_positive", {1.0, 0.0, 1.0}, 0.0);
  expect_values(
      j["stats"], "mean_sigmoid_fake",
      {1 / (1 + std::exp(-5.0)), 0.0, (1 / (1 + std::exp(-6.0)) + 1 / (1 + std::exp(-7.0))) / 2});
  // --segments may repeat what the offsets say; none gives sums and element losses.
  const Json n =
      eval({"--loss", "wasserstein", "--reduction", "none", "--segments", "3", "--real", real,
            "--fake", fake, "--real-offsets", real_offsets, "--fake-offsets", fake_offsets});
  expect_values(n, "d_loss_real", {-3.0, 0.0, -7.0});
  expect_values(n, "loss_real", {-1.0, -2.0, -3.0, -4.0});
  expect_values(n, "loss_fake_g", {-5.0, -6.0, -7.0});
  // Values outside every segment have no loss and a zero gradient.
  const Json o = eval({"--loss", "wasserstein", "--real", real, "--fake", fake, "--real-offsets",
                       file("ro2.txt", "1 1 3"), "--fake-offsets", file("fo2.txt", "0 1 3")});
  expect_values(o, "d_loss_real", {0.0, -2.5});
  expect_values(o, "grad_real", {0.0, -0.5, -0.5, 0.0});
}

TEST_F(cli, EvalStats) {
  // Finite real logits 2, -1, 0, 3 (and one inf); finite fake -3, -1, -2, 5 (and NaN, -inf).
  const Json j = eval({"--loss", "hinge", "--stats", "--real", file("r.txt", "2 -1 0 3 inf"),
                       "--fake", file("f.txt", "-3 nan -1 -2 5 -inf")});
  ASSERT_TRUE(j.has("stats"));
  const Json& st = j["stats"];
  ASSERT_EQ(st.type, Json::Type::object);
  auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
  expect_values(st, "frac_real_positive", {0.5}, 0.0);
  expect_values(st, "frac_fake_negative", {0.75}, 0.0);
  expect_values(st, "mean_sign_real", {0.25}, 0.0);
  expect_values(st, "mean_sigmoid_real", {(sigmoid(2) + sigmoid(-1) + sigmoid(0) + sigmoid(3)) / 4},
                1e-6);
  expect_values(st, "mean_sigmoid_fake",
                {(sigmoid(-3) + sigmoid(-1) + sigmoid(-2) + sigmoid(5)) / 4}, 1e-6);
  // Counts are JSON integers.
  expect_values(st, "nonfinite_real", {1.0}, 0.0);
  expect_values(st, "nonfinite_fake", {2.0}, 0.0);
  const RunResult r = run(
      {"eval", "--backend", "cpu", "--loss", "hinge", "--stats", "--real", real_, "--fake", fake_});
  EXPECT_NE(r.out.find("\"nonfinite_real\": [0]"), std::string::npos) << r.out;
  // Without --stats there are none.
  EXPECT_FALSE(eval({"--loss", "hinge", "--real", real_, "--fake", fake_}).has("stats"));
}

TEST_F(cli, EvalRelativisticPaired) {
  // D sp(f - r), G sp(r - f) per pair: ln 2 at r = f, gradients -+ sigmoid(0) / N.
  const std::string logits = file("x.txt", "0.5 -1 3 0");
  const Json j = eval({"--loss", "relativistic", "--real", logits, "--fake", logits});
  expect_values(j, "d_loss", {kLn2});
  expect_values(j, "d_loss_real", {kLn2});
  expect_values(j, "g_loss", {kLn2});
  expect_values(j, "grad_real", {-0.125, -0.125, -0.125, -0.125});
  expect_values(j, "grad_fake_d", {0.125, 0.125, 0.125, 0.125});
  expect_values(j, "grad_fake_g", {-0.125, -0.125, -0.125, -0.125});
  expect_values(j, "grad_real_g", {0.125, 0.125, 0.125, 0.125});
  // One weight per pair, given as real weights.
  const Json w = eval({"--loss", "relativistic", "--reduction", "none", "--real", logits, "--fake",
                       logits, "--real-weights", file("w.txt", "2 0 1 1")});
  expect_values(w, "d_loss", {4 * kLn2});
  expect_values(w, "loss_real", {2 * kLn2, 0.0, kLn2, kLn2});
  expect_values(w, "grad_real", {-1.0, 0.0, -0.5, -0.5});
  // Non-relativistic kinds have no G gradient over the real logits.
  const Json n =
      eval({"--loss", "nonsaturating", "--reduction", "none", "--real", logits, "--fake", logits});
  expect_values(n, "grad_real_g", {0.0, 0.0, 0.0, 0.0}, 0.0);
  expect_values(n, "loss_real_g", {0.0, 0.0, 0.0, 0.0}, 0.0);
}

TEST_F(cli, EvalRelativisticAverage) {
  // Least squares, r = 1, 3 and f = 0, 2: r~ = r - mean(f) = 0, 2 and f~ = f - mean(r) = -2, 0.
  const std::string real = file("r.txt", "1 3");
  const std::string fake = file("f.txt", "0 2");
  const Json ls =
      eval({"--loss", "relativistic-average-least-squares", "--real", real, "--fake", fake});
  expect_values(ls, "d_loss_real", {0.5});  // mean (r~ - 1)^2 / 2
  expect_values(ls, "d_loss_fake", {0.5});  // mean (f~ + 1)^2 / 2
  expect_values(ls, "g_loss", {5.0});       // mean (r~ + 1)^2 / 2 + mean (f~ - 1)^2 / 2
  expect_values(ls, "grad_real", {-0.5, 0.5});
  expect_values(ls, "grad_real_g", {1.5, 2.5});
  // The average losses depend on differences only: every gradient over r and f sums to 0.
  for (const char* kind : {"relativistic-average", "relativistic-average-hinge",
                           "relativistic-average-least-squares"}) {
    const Json j = eval({"--loss", kind, "--real", file("r3.txt", "1 2.5 -3"), "--fake",
                         file("f3.txt", "-1 0.5"), "--real-weights", file("w3.txt", "1 2 0.5")});
    EXPECT_NEAR(sum_of(j, "grad_real") + sum_of(j, "grad_fake_d"), 0.0, 1e-6) << kind;
    EXPECT_NEAR(sum_of(j, "grad_real_g") + sum_of(j, "grad_fake_g"), 0.0, 1e-6) << kind;
    EXPECT_NE(sum_of(j, "grad_real_g"), 0.0) << kind;
  }
}

// ---------------------------------------------------------------------------------------------
// eval: errors.

TEST_F(cli, ErrorMissingFile) {
  const std::string missing = (dir_ / "absent.txt").string();
  expect_error(run({"eval", "--loss", "hinge", "--real", missing, "--fake", fake_}), 1,
               "absent.txt");
}

TEST_F(cli, ErrorUnreadableFile) {
  // A directory opens but cannot be read, even for root (for whom file modes do not apply).
  const fs::path sub = dir_ / "a_directory";
  fs::create_directories(sub);
  expect_error(run({"eval", "--loss", "hinge", "--real", sub.string(), "--fake", fake_}), 1,
               "a_directory");
}

TEST_F(cli, ErrorBadNumberNamesFileAndLine) {
  const std::string bad = file("bad.txt", "1.0\n2.0\n3.0 abc\n");
  const RunResult r = run({"eval", "--loss", "hinge", "--real", real_, "--fake", bad});
  expect_error(r, 1, "bad.txt");
  EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("abc"), std::string::npos) << r.err;
  expect_error(run({"eval", "--loss", "hinge", "--real", file("b2.txt", "1e"), "--fake", fake_}), 1,
               "line 1");
  expect_error(run({"eval", "--loss", "hinge", "--real", file("b3.txt", "0x10"), "--fake", fake_}),
               1, "not a number");
}

TEST_F(cli, ErrorEmptyFile) {
  expect_error(run({"eval", "--loss", "hinge", "--real", file("empty.txt", ""), "--fake", fake_}),
               1, "empty.txt");
  expect_error(
      run({"eval", "--loss", "hinge", "--real", file("blank.txt", " \n,\t\n"), "--fake", fake_}), 1,
      "no logits");
  expect_error(run({"eval", "--loss", "hinge", "--real", real_, "--fake", "-"}, ""), 1,
               "standard input");
}

TEST_F(cli, ErrorOutOfRangeNumber) {
  const RunResult r =
      run({"eval", "--loss", "hinge", "--real", file("big.txt", "0\n1e50\n"), "--fake", fake_});
  expect_error(r, 1, "range");
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  expect_error(
      run({"eval", "--loss", "hinge", "--real", file("neg.txt", "-3.5e38"), "--fake", fake_}), 1,
      "range");
}

TEST_F(cli, ErrorSizeNotDivisibleBySegments) {
  expect_error(run({"eval", "--loss", "hinge", "--segments", "2", "--real",
                    file("three.txt", "1 2 3"), "--fake", file("two.txt", "1 2")}),
               1, "segments");
  expect_error(run({"eval", "--loss", "hinge", "--segments", "3", "--real",
                    file("three2.txt", "1 2 3"), "--fake", file("two2.txt", "1 2")}),
               1, "fake");
}

TEST_F(cli, ErrorUnknownNames) {
  expect_error(run({"eval", "--loss", "vanilla", "--real", real_, "--fake", fake_}), 2, "vanilla");
  expect_error(
      run({"eval", "--loss", "hinge", "--reduction", "avg", "--real", real_, "--fake", fake_}), 2,
      "avg");
  expect_error(
      run({"eval", "--loss", "hinge", "--backend", "tpu", "--real", real_, "--fake", fake_}), 2,
      "tpu");
  expect_error(run({"eval", "--loss", "hinge", "--dtype", "f64", "--real", real_, "--fake", fake_}),
               2, "f64");
  expect_error(run({"eval", "--loss", "hinge", "--bogus", "--real", real_, "--fake", fake_}), 2,
               "--bogus");
  expect_error(run({"evaluate"}), 2, "evaluate");
  expect_error(run({}), 2, "no command");
}

TEST_F(cli, ErrorMissingOptions) {
  expect_error(run({"eval", "--real", real_, "--fake", fake_}), 2, "--loss");
  expect_error(run({"eval", "--d-loss", "hinge", "--real", real_, "--fake", fake_}), 2, "--loss");
  expect_error(run({"eval", "--loss", "hinge", "--real", real_}), 2, "--fake");
  expect_error(run({"eval", "--loss", "hinge", "--fake", fake_}), 2, "--real");
  expect_error(run({"eval", "--loss", "hinge", "--real", real_, "--fake"}), 2, "--fake");
  expect_error(
      run({"eval", "--loss", "hinge", "--loss", "hinge", "--real", real_, "--fake", fake_}), 2,
      "more than once");
  expect_error(run({"eval", "--loss", "hinge", "--real", real_, "--fake", fake_, "extra"}), 2,
               "extra");
}

TEST_F(cli, ErrorBadSegments) {
  for (const char* bad : {"0", "-1", "abc", "2x", "", "99999999999999999999"}) {
    expect_error(
        run({"eval", "--loss", "hinge", "--segments", bad, "--real", real_, "--fake", fake_}), 2,
        "--segments");
  }
}

TEST_F(cli, ErrorBadNumericOptions) {
  expect_error(
      run({"eval", "--loss", "hinge", "--grad-scale", "1e50", "--real", real_, "--fake", fake_}), 2,
      "--grad-scale");
  expect_error(
      run({"eval", "--loss", "hinge", "--grad-scale", "nan", "--real", real_, "--fake", fake_}), 2,
      "--grad-scale");
  expect_error(
      run({"eval", "--loss", "hinge", "--ls-labels", "1,2", "--real", real_, "--fake", fake_}), 2,
      "--ls-labels");
  expect_error(
      run({"eval", "--loss", "hinge", "--threads", "-1", "--real", real_, "--fake", fake_}), 2,
      "--threads");
  // A value the library rejects: a status failure, exit 1.
  expect_error(run({"eval", "--loss", "nonsaturating", "--real-target", "1.5", "--real", real_,
                    "--fake", fake_}),
               1, "real_target");
}

TEST_F(cli, ErrorWeights) {
  // One weight per logit of its side.
  const RunResult r = run({"eval", "--loss", "hinge", "--real", real_, "--fake", fake_,
                           "--real-weights", file("w.txt", "1 2 3")});
  expect_error(r, 1, "w.txt");
  EXPECT_NE(r.err.find("3 values"), std::string::npos) << r.err;
  expect_error(run({"eval", "--loss", "hinge", "--real", real_, "--fake", fake_, "--fake-weights",
                    file("w2.txt", "1 1")}),
               1, "fake weights");
  expect_error(run({"eval", "--loss", "hinge", "--real", real_, "--fake", fake_, "--real-weights",
                    file("w3.txt", "1 -1")}),
               1, ">= 0");
  expect_error(run({"eval", "--loss", "hinge", "--real", real_, "--fake", fake_, "--real-weights",
                    file("w4.txt", "1 nan")}),
               1, "w4.txt");
  // The paired kind weighs pairs, through --real-weights.
  expect_error(run({"eval", "--loss", "relativistic", "--real", file("r.txt", "0"), "--fake", fake_,
                    "--fake-weights", file("w5.txt", "1")}),
               2, "--real-weights");
}

TEST_F(cli, ErrorOffsets) {
  const std::string real = file("r.txt", "1 2 3 4");
  const std::string fake = file("f.txt", "5 6 7");
  const std::string fake_offsets = file("fo.txt", "0 1 3");
  auto ragged = [&](const std::string& real_offsets, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"eval",       "--loss",         "hinge",     "--real",
                                     real,         "--fake",         fake,        "--real-offsets",
                                     real_offsets, "--fake-offsets", fake_offsets};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  expect_error(ragged(file("dec.txt", "0 3 2")), 1, "non-decreasing");
  expect_error(ragged(file("frac.txt", "0 1.5 4")), 1, "not an integer");
  expect_error(ragged(file("exp.txt", "0 1e0 4")), 1, "not an integer");
  expect_error(ragged(file("past.txt", "0 2 5")), 1, "outside [0, 4]");
  expect_error(ragged(file("neg.txt", "-1 2 4")), 1, "outside");
  expect_error(ragged(file("short.txt", "0 4")), 1, "segments + 1");
  expect_error(ragged(file("ok.txt", "0 2 4"), {"--segments", "3"}), 1, "--segments 3");
  // Both sides or neither: a usage error, found before any file is read.
  expect_error(run({"eval", "--loss", "hinge", "--real", real, "--fake", fake, "--real-offsets",
                    file("ro.txt", "0 4")}),
               2, "--fake-offsets");
  expect_error(run({"eval", "--loss", "hinge", "--real", real, "--fake", fake, "--fake-offsets",
                    fake_offsets}),
               2, "--real-offsets");
}

TEST_F(cli, ErrorRelativistic) {
  // Paired: as many real as fake logits in every segment.
  expect_error(run({"eval", "--loss", "relativistic", "--real", file("r.txt", "1 2 3"), "--fake",
                    file("f.txt", "1 2")}),
               1, "pairs");
  expect_error(run({"eval", "--loss", "relativistic", "--real", file("r2.txt", "1 2 3"), "--fake",
                    file("f2.txt", "1 2 3"), "--real-offsets", file("ro.txt", "0 1 3"),
                    "--fake-offsets", file("fo.txt", "0 2 3")}),
               1, "segment 0");
  // A relativistic kind is both the D and the G loss.
  expect_error(run({"eval", "--d-loss", "relativistic-average", "--g-loss", "hinge", "--real",
                    real_, "--fake", fake_}),
               2, "relativistic");
  expect_error(run({"eval", "--loss", "relativistic-avg", "--real", real_, "--fake", fake_}), 2,
               "relativistic-average-least-squares");
  expect_error(
      run({"eval", "--loss", "hinge", "--reduction", "nonzero", "--real", real_, "--fake", fake_}),
      2, "mean-nonzero");
}

TEST_F(cli, ErrorBothInputsFromStandardInput) {
  expect_error(run({"eval", "--loss", "hinge", "--real", "-", "--fake", "-"}, "0 0"), 2,
               "standard input");
  expect_error(run({"eval", "--loss", "hinge", "--real", real_, "--fake", fake_, "--real-weights",
                    "-", "--fake-weights", "-"},
                   "1"),
               2, "standard input");
}

TEST_F(cli, ErrorCudaBackendWithoutGpu) {
  if (ganloss_backend_available(GANLOSS_BACKEND_CUDA) == GANLOSS_STATUS_SUCCESS) {
    GTEST_SKIP() << "a CUDA device is usable here";
  }
  expect_error(
      run({"eval", "--loss", "hinge", "--backend", "cuda", "--real", real_, "--fake", fake_}), 1,
      "cuda");
  expect_error(run({"check", "--backend", "cuda"}), 1, "cuda");
  expect_error(run({"bench", "--backend", "cuda", "--sizes", "1024"}), 1, "cuda");
}

// ---------------------------------------------------------------------------------------------
// help, version, check, bench.

TEST_F(cli, HelpAndVersion) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"eval", "--help"},
                                             {"check", "--help"},
                                             {"bench", "-h"},
                                             {"eval", "--bogus", "--help"}}) {
    const RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out.rfind("Usage: ganloss", 0), 0u) << r.out;
  }
  EXPECT_NE(run({"eval", "--help"}).out.find("\"Infinity\""), std::string::npos);
  EXPECT_NE(run({"eval", "--help"}).out.find("--fp32-gradients"), std::string::npos);
  EXPECT_NE(run({"eval", "--help"}).out.find("\"fp32_gradients\""), std::string::npos);
  const std::string eval_help = run({"eval", "--help"}).out;
  for (const char* option :
       {"--real-weights", "--fake-weights", "--real-offsets", "--fake-offsets", "--stats",
        "mean-nonzero", "relativistic-average-least-squares", "\"grad_real_g\"", "\"loss_real_g\"",
        "\"stats\"", "frac_fake_negative", "nonfinite_real"}) {
    EXPECT_NE(eval_help.find(option), std::string::npos) << option;
  }
  EXPECT_NE(run({"bench", "--help"}).out.find("relativistic-average"), std::string::npos);
  EXPECT_NE(run({"check", "--help"}).out.find("--dtype"), std::string::npos);
  EXPECT_NE(run({"bench", "--help"}).out.find("--dtype"), std::string::npos);
  for (const char* text : {"--data", "realistic", "extreme", "copy_ratio", "cudaMemcpyAsync"}) {
    EXPECT_NE(run({"bench", "--help"}).out.find(text), std::string::npos) << text;
  }
  const RunResult v = run({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, std::string("ganloss ") + GANLOSS_VERSION_STRING + "\n");
}

TEST_F(cli, CheckPassesOnCpu) {
#if defined(GANLOSS_TEST_SANITIZED)
  // f32 alone (every row of the matrix and the family); CheckHalfPrecisionPasses runs f16.
  const RunResult r = run({"check", "--backend", "cpu", "--dtype", "f32"});
#else
  const RunResult r = run({"check", "--backend", "cpu"});
#endif
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  const std::size_t last = r.out.rfind('\n', r.out.size() - 2);
  const std::string last_line = r.out.substr(last == std::string::npos ? 0 : last + 1);
  EXPECT_EQ(last_line.rfind("PASS: ", 0), 0u) << last_line;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  // The family beyond the basic kinds is part of it.
  for (const char* row : {"relativistic mean-nonzero", "relativistic-average-hinge none",
                          "relativistic-average-least-squares sum", "weights,ragged"}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row;
  }
}

TEST_F(cli, CheckHalfPrecisionPasses) {
  const RunResult r = run({"check", "--backend", "cpu", "--dtype", "f16"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find(" f16 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" f16/f32grad "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" f32 "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("bf16"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  const std::size_t last = r.out.rfind('\n', r.out.size() - 2);
  EXPECT_EQ(r.out.substr(last + 1).rfind("PASS: ", 0), 0u) << r.out;
}

TEST_F(cli, CheckRejectsUnknownDtype) {
  const RunResult r = run({"check", "--dtype", "bogus"});
  expect_error(r, 2, "bogus");
  EXPECT_NE(r.err.find("all"), std::string::npos) << r.err;
  expect_error(run({"check", "--dtype"}), 2, "--dtype");
}

TEST_F(cli, BenchHalfPrecision) {
  const RunResult r = run({"bench", "--dtype", "bf16", "--sizes", "1024", "--repeat", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("bf16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 1024 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes = 2*(Nr+Nf)"), std::string::npos) << r.out;

  // 2-byte logits and gradients: 2 * 1024 read + 2 * (512 + 2 * 512) written + 16 totals.
  const RunResult j = run({"bench", "--backend", "cpu", "--dtype", "f16", "--sizes", "1024",
                           "--repeat", "1", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const Json doc = parse_json(j.out);
  EXPECT_EQ(doc["dtype"].string, "f16");
  ASSERT_EQ(doc["results"].items.size(), 1u);
  EXPECT_EQ(doc["results"].items[0]["bytes"].number, 2.0 * 1024 + 2.0 * 1536 + 16);
  expect_error(run({"bench", "--dtype", "f8"}), 2, "f8");
}

TEST_F(cli, BenchRelativistic) {
  const RunResult r = run({"bench", "--backend", "cpu", "--loss", "relativistic-average", "--sizes",
                           "1000", "--repeat", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_json(r.out)["loss"].string, "relativistic-average");
  const RunResult p = run(
      {"bench", "--backend", "cpu", "--loss", "relativistic", "--sizes", "1024", "--repeat", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("relativistic D and G"), std::string::npos) << p.out;
  // Paired: a size splits into as many real as fake logits.
  expect_error(run({"bench", "--loss", "relativistic", "--sizes", "1025"}), 2, "even");
}

TEST_F(cli, BenchRunsOnTinySizes) {
  const RunResult r = run({"bench", "--backend", "cpu", "--sizes", "1024,2^11", "--repeat", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("device: cpu: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("threads"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 1024 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 2048 "), std::string::npos) << r.out;

  const RunResult j =
      run({"bench", "--backend", "all", "--sizes", "1024", "--repeat", "1", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const Json doc = parse_json(j.out);
  bool saw_reference = false, saw_cpu = false;
  for (const Json& m : doc["results"].items) {
    EXPECT_EQ(m["elements"].number, 1024.0);
    EXPECT_GT(m["seconds"].number, 0.0);
    saw_reference |= m["backend"].string == "reference";
    if (m["backend"].string == "cpu") {
      saw_cpu = true;
      EXPECT_EQ(m["speedup_vs_reference"].type, Json::Type::number);
    }
  }
  EXPECT_TRUE(saw_reference);
  EXPECT_TRUE(saw_cpu);
  EXPECT_FALSE(doc["devices"].items.empty());
  EXPECT_EQ(doc["dtype"].string, "f32");
  EXPECT_EQ(doc["results"].items[0]["bytes"].number, 4.0 * 1024 + 4.0 * 1536 + 16);

  expect_error(run({"bench", "--sizes", "1,2"}), 2, "--sizes");
  expect_error(run({"bench", "--repeat", "0"}), 2, "--repeat");
  // Every exponent outside [1, 40] names the sizes' range, however far out.
  for (const char* size : {"2^0", "2^41", "2^64", "2^-1"})
    expect_error(run({"bench", "--sizes", size}), 2, "outside [2, 2^40]");
  // The library runs at most 1024 threads: more are refused, not printed and never used.
  expect_error(run({"bench", "--threads", "1025"}), 2, "--threads must lie in [0, 1024]");
  expect_error(run({"check", "--threads", "4096"}), 2, "--threads");
}

TEST_F(cli, BenchComparesWithACopy) {
  // Realistic logits by default; a copy of as many bytes measured in the same run.
  const RunResult r = run({"bench", "--backend", "cpu", "--sizes", "2^17", "--threads", "2",
                           "--repeat", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json doc = parse_json(r.out);
  EXPECT_EQ(doc["data"].string, "realistic");
  EXPECT_NE(doc["copy"].string.find("memcpy"), std::string::npos);
  ASSERT_EQ(doc["results"].items.size(), 1u);
  const Json& m = doc["results"].items[0];
  EXPECT_GT(m["copy_seconds"].number, 0.0);
  EXPECT_EQ(m["copy_threads"].number, 2.0);
  EXPECT_NEAR(m["copy_ratio"].number, m["copy_seconds"].number / m["seconds"].number,
              1e-4 * m["copy_ratio"].number);  // each printed to 6 digits
  // Below 2^16 logits the CPU backend, and so its copy, runs on one thread; so does the
  // reference.
  const RunResult small = run({"bench", "--sizes", "1024", "--threads", "2", "--repeat", "1",
                               "--json", "--data", "extreme"});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  const Json s = parse_json(small.out);
  EXPECT_EQ(s["data"].string, "extreme");
  for (const Json& item : s["results"].items) {
    if (item["backend"].string == "cuda") continue;
    EXPECT_EQ(item["copy_threads"].number, 1.0) << item["backend"].string;
    EXPECT_GT(item["copy_ratio"].number, 0.0);
  }
  // The table has the column and names the data.
  const RunResult t = run({"bench", "--backend", "cpu", "--sizes", "1024", "--repeat", "1"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("copy_ratio"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("realistic logits"), std::string::npos) << t.out;
  expect_error(run({"bench", "--data", "normal"}), 2, "--data");
}

}  // namespace
