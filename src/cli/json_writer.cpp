// JSON output for the ganloss tool; see json_writer.hpp.
#include "json_writer.hpp"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace ganloss {
namespace cli {

void JsonWriter::newline_indent() {
  out_ += '\n';
  out_.append(2 * levels_.size(), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (levels_.empty()) return;
  Level& level = levels_.back();
  if (!level.empty) out_ += level.multiline ? "," : ", ";
  level.empty = false;
  if (level.multiline) newline_indent();
}

void JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  levels_.push_back(Level{true, true, true});
}

void JsonWriter::end_object() {
  const bool empty = levels_.back().empty;
  levels_.pop_back();
  if (!empty) newline_indent();
  out_ += '}';
  if (levels_.empty()) out_ += '\n';
}

void JsonWriter::begin_array(bool one_element_per_line) {
  before_value();
  out_ += '[';
  levels_.push_back(Level{false, one_element_per_line, true});
}

void JsonWriter::end_array() {
  const Level level = levels_.back();
  levels_.pop_back();
  if (level.multiline && !level.empty) newline_indent();
  out_ += ']';
  if (levels_.empty()) out_ += '\n';
}

void JsonWriter::key(std::string_view name) {
  before_value();
  write_quoted(name);
  out_ += ": ";
  after_key_ = true;
}

void JsonWriter::string(std::string_view value) {
  before_value();
  write_quoted(value);
}

void JsonWriter::write_quoted(std::string_view text) {
  out_ += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        if (u < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
          out_ += escaped;
        } else {
          out_ += c;
        }
    }
  }
  out_ += '"';
}

void JsonWriter::non_finite(double value) {
  string(std::isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity"));
}

void JsonWriter::number(float value) {
  if (!std::isfinite(value)) return non_finite(value);
  before_value();
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
  out_ += buffer;
}

void JsonWriter::number(double value, int significant_digits) {
  if (!std::isfinite(value)) return non_finite(value);
  before_value();
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.*g", significant_digits, value);
  out_ += buffer;
}

void JsonWriter::integer(int64_t value) {
  before_value();
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%" PRId64, value);
  out_ += buffer;
}

void JsonWriter::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
}

void JsonWriter::null() {
  before_value();
  out_ += "null";
}

void JsonWriter::float_array(std::span<const float> values) {
  begin_array();
  for (const float v : values)
    number(v);
  end_array();
}

}  // namespace cli
}  // namespace ganloss
