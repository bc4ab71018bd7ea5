// The dashboard opened in headless Chromium: its charts must render (the page's own self-check
// sets data-vitbench-rendered="ok" and counts the charts it found laid out) with no console
// message at all (script errors, CSP violations from a network fetch). A screenshot is kept as a
// test artifact. Where Chromium is missing it is installed only when VITBENCH_INSTALL_CHROMIUM=1;
// otherwise the test is skipped, saying so.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "reports/dashboard.h"
#include "tests/reports/reports_test_util.h"

namespace vitbench::reports {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::fixture;
using testing::TempDir;

std::string which(const std::string& name, const TempDir& dir) {
  const CommandResult r = testing::run_command("sh", {"-c", "command -v " + name}, dir);
  std::string path = r.out;
  while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
  return r.exit_code == 0 ? path : "";
}

std::string find_chromium(const TempDir& dir) {
  if (const char* own = std::getenv("VITBENCH_CHROMIUM"); own && *own) return own;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    if (std::string p = which(name, dir); !p.empty()) return p;
  }
  return "";
}

std::string ensure_chromium(const TempDir& dir, std::string& why_not) {
  std::string chromium = find_chromium(dir);
  if (!chromium.empty()) return chromium;
  const char* allowed = std::getenv("VITBENCH_INSTALL_CHROMIUM");
  if (!allowed || std::string(allowed) != "1") {
    why_not = "Chromium is not installed; set VITBENCH_INSTALL_CHROMIUM=1 to let this test run "
              "`apt-get install -y chromium`, or VITBENCH_CHROMIUM to a browser binary";
    return "";
  }
  const std::string sudo = ::geteuid() == 0 ? "" : "sudo -n ";
  const CommandResult r = testing::run_command(
      "sh", {"-c", "DEBIAN_FRONTEND=noninteractive " + sudo + "apt-get install -y -q chromium"}, dir);
  chromium = find_chromium(dir);
  if (chromium.empty()) {
    why_not = "installing Chromium failed (exit " + std::to_string(r.exit_code) + "): " +
              r.err.substr(0, 300);
  }
  return chromium;
}

std::vector<std::string> chromium_args(const TempDir& dir) {
  // A fresh profile and everything that phones home switched off: the page must not need it.
  return {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--user-data-dir=" + (dir / "profile"),
          "--enable-logging=stderr", "--v=0"};
}

struct Rendered {
  int exit_code = -1;
  std::string dom;
  std::vector<std::string> console;  // every console message the page produced
};

Rendered open_page(const std::string& chromium, const std::string& page, const TempDir& dir) {
  std::vector<std::string> args = {"120", chromium};
  for (const std::string& a : chromium_args(dir)) args.push_back(a);
  args.push_back("--dump-dom");
  args.push_back("file://" + page);
  const CommandResult r = testing::run_command("timeout", args, dir);
  Rendered out{r.exit_code, r.out, {}};
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(":CONSOLE") != std::string::npos) out.console.push_back(line);
  }
  return out;
}

std::string attribute(const std::string& dom, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = dom.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return dom.substr(start, dom.find('"', start) - start);
}

std::string artifact_dir() {
  const char* own = std::getenv("VITBENCH_ARTIFACT_DIR");
  const std::string dir = own && *own ? own : std::string(VITBENCH_TEST_ARTIFACTS) + "/reports";
  fs::create_directories(dir);
  return dir;
}

class DashboardBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why_not;
    chromium_ = ensure_chromium(dir_, why_not);
    if (chromium_.empty()) GTEST_SKIP() << "SKIPPED browser test: " << why_not;
  }
  TempDir dir_;
  std::string chromium_;
};

// The detector itself must be able to fail: a page with a script error, a console.error and a
// blocked network fetch is caught on all three counts.
TEST_F(DashboardBrowser, DetectsABrokenPage) {
  const std::string page = dir_ / "broken.html";
  testing::write_bytes(page,
                      "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                      "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
                      "<img src=\"https://example.com/x.png\"><script>console.error('boom');"
                      "noSuchFunction();</script></body></html>");
  const Rendered r = open_page(chromium_, page, dir_);
  ASSERT_EQ(r.exit_code, 0);
  std::string all;
  for (const std::string& l : r.console) all += l + "\n";
  EXPECT_NE(all.find("noSuchFunction"), std::string::npos) << all;
  EXPECT_NE(all.find("boom"), std::string::npos) << all;
  EXPECT_NE(all.find("Content Security Policy"), std::string::npos) << all;
}

TEST_F(DashboardBrowser, RendersChartsWithoutConsoleErrors) {
  const DashboardInput in = load_dashboard_input(
      {fixture("base.json"), fixture("new_same.json"), fixture("new_slow.json"), fixture("new_accuracy.json"),
       fixture("machine_b.json"), fixture("missing_fields.json"), fixture("nan_timings.json")});
  ASSERT_EQ(in.skipped.size(), 1u);
  const std::string html = render_dashboard(in, {});
  const std::string artifacts = artifact_dir();
  const std::string page = artifacts + "/dashboard.html";
  core::write_file_atomically(page, html);

  const Rendered r = open_page(chromium_, page, dir_);
  ASSERT_EQ(r.exit_code, 0) << "chromium failed or timed out";
  ASSERT_FALSE(r.dom.empty());
  std::string console;
  for (const std::string& l : r.console) console += l + "\n";
  EXPECT_TRUE(r.console.empty()) << "console messages:\n" << console;
  EXPECT_EQ(attribute(r.dom, "data-vitbench-errors"), "");
  EXPECT_EQ(attribute(r.dom, "data-vitbench-rendered"), "ok") << r.dom.substr(0, 400);
  size_t charts = 0;
  for (size_t at = html.find("<svg class=\"chart\""); at != std::string::npos;
       at = html.find("<svg class=\"chart\"", at + 1)) {
    ++charts;
  }
  EXPECT_GT(charts, 20u);
  EXPECT_EQ(attribute(r.dom, "data-vitbench-charts"), std::to_string(charts));

  // The screenshot, kept for a person to look at (CI uploads the artifacts folder).
  const std::string shot = artifacts + "/dashboard.png";
  fs::remove(shot);
  std::vector<std::string> args = {"120", chromium_};
  for (const std::string& a : chromium_args(dir_)) args.push_back(a);
  args.push_back("--window-size=1400,3000");
  args.push_back("--hide-scrollbars");
  args.push_back("--screenshot=" + shot);
  args.push_back("file://" + page);
  const CommandResult s = testing::run_command("timeout", args, dir_);
  ASSERT_EQ(s.exit_code, 0) << s.err.substr(0, 2000);
  const std::string png = testing::read_bytes(shot);
  ASSERT_GT(png.size(), 20000u) << "a drawn page, not a blank one";
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::cout << "dashboard screenshot: " << shot << "\n";
  RecordProperty("screenshot", shot);
}

}  // namespace
}  // namespace vitbench::reports
