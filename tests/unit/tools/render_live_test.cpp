// `xrmctl status`: the "live" line appears only when a class asks for live telemetry or
// something was sent, and reads its counters in words.
#include <CppUTest/TestHarness.h>

#include <nlohmann/json.hpp>
#include <string>

#include "xrmctl/render.hpp"

using nlohmann::json;
using xrm::xrmctl::render_status;

namespace {

json status_with_live(json live) {
  return {{"gateway_id", "gw-01"}, {"connections", json::object()}, {"ingest", json::object()}, {"live", live}};
}

json live(int classes, int devices, int sent, int rate, int deadband, int dropped) {
  return {{"enabled_classes", classes},      {"devices", devices},        {"sent", sent}, {"suppressed_rate", rate},
          {"suppressed_deadband", deadband}, {"dropped_offline", dropped}};
}

}  // namespace

TEST_GROUP(RenderStatusLive){};

TEST(RenderStatusLive, LineWithCounters) {
  const std::string text = render_status(status_with_live(live(2, 5, 120, 30, 400, 2)));
  STRCMP_CONTAINS("\nlive          sent 120, rate-limited 30, deadband 400, dropped offline 2; 2 classes, 5 devices\n",
                  text.c_str());
}

TEST(RenderStatusLive, EnabledButNothingSentYetStillShows) {
  STRCMP_CONTAINS("\nlive          sent 0, rate-limited 0, deadband 0, dropped offline 0; 1 class, 0 devices\n",
                  render_status(status_with_live(live(1, 0, 0, 0, 0, 0))).c_str());
}

TEST(RenderStatusLive, SentButNoLongerEnabledStillShows) {
  STRCMP_CONTAINS("\nlive          sent 3, ", render_status(status_with_live(live(0, 0, 3, 0, 0, 0))).c_str());
}

TEST(RenderStatusLive, OffAndUnusedOrAbsentIsLeftOut) {
  CHECK(render_status(status_with_live(live(0, 0, 0, 0, 0, 0))).find("live") == std::string::npos);
  json r = status_with_live(nullptr);
  r.erase("live");
  CHECK(render_status(r).find("live") == std::string::npos);
  CHECK(render_status(status_with_live("garbage")).find("live") == std::string::npos);
}
