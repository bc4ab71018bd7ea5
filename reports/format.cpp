#include "reports/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vitbench::reports {

std::string format_number(double v, int significant) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1e-3 && a < 1e6) {
    const int digits_before = a >= 1 ? int(std::floor(std::log10(a))) + 1 : 0;
    int decimals = std::max(0, significant - digits_before);
    if (a < 1) decimals = significant - int(std::floor(std::log10(a))) - 1;
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 12), v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.*e", std::max(0, significant - 1), v);
  return buf;
}

std::string format_compact(double value, int significant) {
  const std::string s = format_number(value, significant);
  const size_t e = s.find('e');
  std::string mantissa = s.substr(0, e), exponent = e == std::string::npos ? "" : s.substr(e);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  return mantissa + exponent;
}

std::string format_duration(double ns) {
  if (!std::isfinite(ns)) return format_number(ns);
  const double a = std::fabs(ns);
  if (a < 1e3) return format_number(ns) + " ns";
  if (a < 1e6) return format_number(ns / 1e3) + " us";
  if (a < 1e9) return format_number(ns / 1e6) + " ms";
  return format_number(ns / 1e9) + " s";
}

std::string format_change(double change) {
  if (!std::isfinite(change)) return format_number(change);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.1f%%", change * 100);
  return buf;
}

std::string format_optional(const std::optional<double>& value, int significant) {
  return value ? format_number(*value, significant) : "-";
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters from a hostile report would make the page invalid; drop them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') break;
        out += c;
    }
  }
  return out;
}

namespace {

// Display width counting UTF-8 code points, so CPU names with (R) or µ still line up.
size_t width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

std::string Table::render(TextFormat format) const {
  std::string out;
  if (format == TextFormat::Markdown) {
    auto line = [&](const std::vector<std::string>& cells) {
      out += "|";
      for (const std::string& c : cells) out += " " + markdown_cell(c) + " |";
      out += "\n";
    };
    line(header);
    out += "|";
    for (size_t i = 0; i < header.size(); ++i) out += i == 0 ? " :--- |" : " ---: |";
    out += "\n";
    for (const auto& r : rows) line(r);
    return out;
  }
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], width(cells[i]));
    }
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      l += cell;
      if (i + 1 < widths.size()) l += std::string(widths[i] - width(cell) + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  size_t total = 0;
  for (size_t w : widths) total += w + 2;
  out += std::string(total >= 2 ? total - 2 : 0, '-') + "\n";
  for (const auto& r : rows) line(r);
  return out;
}

}  // namespace vitbench::reports
