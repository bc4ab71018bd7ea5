// Number formatting and plain tables shared by compare's text output and the dashboard.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vitbench::reports {

enum class TextFormat { Text, Markdown };

// "301.2 ms": the unit that keeps 1 to 999 in front of the point, 4 significant digits.
std::string format_duration(double ns);
// Up to `significant` digits, in plain notation for 1e-3 <= |v| < 1e6 and scientific otherwise.
std::string format_number(double value, int significant = 4);
// format_number without trailing zeros: "5", "0.05", "1e-05", for settings and round values.
std::string format_compact(double value, int significant = 4);
// "+20.0%" for a relative change of 0.2.
std::string format_change(double change);
std::string format_optional(const std::optional<double>& value, int significant = 4);

// Escapes text for HTML element content and attribute values alike (& < > " ').
std::string html_escape(std::string_view text);

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Text: columns padded to their widest cell. Markdown: a GitHub table, with | escaped.
  std::string render(TextFormat format) const;
};

}  // namespace vitbench::reports
