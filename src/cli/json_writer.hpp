// A small streaming JSON writer for the tool's machine-readable output. Floats are printed
// with %.9g, which round-trips every f32; JSON has no NaN or infinity, so those are written as
// the strings "NaN", "Infinity" and "-Infinity" (the spelling JavaScript and Python's json
// module use).
#ifndef GANLOSS_CLI_JSON_WRITER_HPP_
#define GANLOSS_CLI_JSON_WRITER_HPP_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ganloss {
namespace cli {

// Objects are written one member per line, arrays on one line unless asked otherwise. The
// caller keeps the nesting balanced and writes key() before each member of an object.
class JsonWriter {
 public:
  void begin_object();
  void end_object();
  void begin_array(bool one_element_per_line = false);
  void end_array();
  void key(std::string_view name);

  void string(std::string_view value);
  void number(float value);
  void number(double value, int significant_digits);
  void integer(int64_t value);
  void boolean(bool value);
  void null();
  void float_array(std::span<const float> values);

  // The document so far, with a final newline once the outermost value is closed.
  const std::string& text() const { return out_; }

 private:
  struct Level {
    bool is_object;
    bool multiline;
    bool empty;
  };
  void before_value();
  void write_quoted(std::string_view text);
  void newline_indent();
  void non_finite(double value);

  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_JSON_WRITER_HPP_
