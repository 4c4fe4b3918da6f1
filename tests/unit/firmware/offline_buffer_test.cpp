#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "xrm/device/offline_buffer.hpp"

using xrm::device::MessageKind;
using xrm::device::OfflineBuffer;
using xrm::device::OfflineBufferLimits;
using xrm::device::OutboundMessage;

namespace {

OutboundMessage msg(MessageKind kind, const std::string& payload, const std::string& topic = "t") {
  OutboundMessage m;
  m.kind = kind;
  m.topic = topic;
  m.payload = payload;
  return m;
}

// The payloads in the buffer, oldest first.
std::string contents(const OfflineBuffer& b) {
  std::string out;
  for (const auto& m : b.messages()) out += (out.empty() ? "" : ",") + m.payload;
  return out;
}

const auto kTele = MessageKind::kTelemetry;
const auto kEvt = MessageKind::kEvent;

}  // namespace

TEST_GROUP(OfflineBuffer){};

TEST(OfflineBuffer, KeepsOrderAndCountsBytesOfTopicAndPayload) {
  OfflineBuffer b(OfflineBufferLimits{10, 1000});
  CHECK_EQUAL(1u, b.push(msg(kTele, "t1", "abc")));
  CHECK_EQUAL(2u, b.push(msg(kEvt, "e1", "abc")));
  STRCMP_EQUAL("t1,e1", contents(b).c_str());
  CHECK_EQUAL(10u, b.bytes());
  CHECK_TRUE(b.remove(1));
  CHECK_FALSE(b.remove(1));
  CHECK_EQUAL(5u, b.bytes());
}

TEST(OfflineBuffer, WhenFullByCountDropsOldestTelemetryFirst) {
  OfflineBuffer b(OfflineBufferLimits{4, 1000});
  b.push(msg(kTele, "t1"));
  b.push(msg(kEvt, "e1"));
  b.push(msg(kTele, "t2"));
  b.push(msg(kEvt, "e2"));
  CHECK_TRUE(b.push(msg(kEvt, "e3")) != 0);
  STRCMP_EQUAL("e1,t2,e2,e3", contents(b).c_str());
  CHECK_TRUE(b.push(msg(kTele, "t3")) != 0);
  STRCMP_EQUAL("e1,e2,e3,t3", contents(b).c_str());
  CHECK_EQUAL(2u, b.stats().dropped_telemetry);
  CHECK_EQUAL(0u, b.stats().dropped_events);
}

TEST(OfflineBuffer, NewTelemetryYieldsToBufferedEvents) {
  OfflineBuffer b(OfflineBufferLimits{2, 1000});
  b.push(msg(kEvt, "e1"));
  b.push(msg(kEvt, "e2"));
  CHECK_EQUAL(0u, b.push(msg(kTele, "t1")));
  STRCMP_EQUAL("e1,e2", contents(b).c_str());
  CHECK_EQUAL(1u, b.stats().dropped_telemetry);
  CHECK_EQUAL(0u, b.stats().dropped_events);
}

TEST(OfflineBuffer, EventsDropOldestFirstOnlyWhenNoTelemetryIsLeft) {
  OfflineBuffer b(OfflineBufferLimits{3, 1000});
  b.push(msg(kEvt, "e1"));
  b.push(msg(kTele, "t1"));
  b.push(msg(kEvt, "e2"));
  b.push(msg(kEvt, "e3"));  // drops t1
  STRCMP_EQUAL("e1,e2,e3", contents(b).c_str());
  b.push(msg(kEvt, "e4"));  // no telemetry left: drops e1
  STRCMP_EQUAL("e2,e3,e4", contents(b).c_str());
  b.push(msg(MessageKind::kCommandResult, "r1"));  // results are kept like events
  STRCMP_EQUAL("e3,e4,r1", contents(b).c_str());
  CHECK_EQUAL(1u, b.stats().dropped_telemetry);
  CHECK_EQUAL(2u, b.stats().dropped_events);
}

TEST(OfflineBuffer, ByteLimitDropsAsManyAsNeeded) {
  OfflineBuffer b(OfflineBufferLimits{100, 30});            // topic "t" + payload
  b.push(msg(kTele, "aaaaaaaa"));                           // 9
  b.push(msg(kTele, "bbbbbbbb"));                           // 18
  b.push(msg(kEvt, "cccccccc"));                            // 27
  CHECK_TRUE(b.push(msg(kEvt, "ddddddddddddddddd")) != 0);  // 18 more: both telemetry go
  STRCMP_EQUAL("cccccccc,ddddddddddddddddd", contents(b).c_str());
  CHECK_EQUAL(27u, b.bytes());
  CHECK_EQUAL(2u, b.stats().dropped_telemetry);
  CHECK_EQUAL(18u, b.stats().dropped_bytes);
}

TEST(OfflineBuffer, RefusesAMessageLargerThanTheWholeBudget) {
  OfflineBuffer b(OfflineBufferLimits{100, 10});
  b.push(msg(kEvt, "e1"));
  CHECK_EQUAL(0u, b.push(msg(kEvt, std::string(10, 'x'))));
  STRCMP_EQUAL("e1", contents(b).c_str());
  CHECK_EQUAL(1u, b.stats().dropped_events);
}

TEST(OfflineBuffer, NeverDropsAMessageInFlight) {
  OfflineBuffer b(OfflineBufferLimits{2, 1000});
  b.push(msg(kTele, "t1"));
  b.push(msg(kTele, "t2"));
  b.next_unsent()->in_flight = true;  // t1
  b.next_unsent()->in_flight = true;  // t2
  POINTERS_EQUAL(nullptr, b.next_unsent());  // CppUTest has no StringFrom(nullptr_t) on __arm__
  CHECK_EQUAL(0u, b.push(msg(kEvt, "e1")));  // nothing droppable: refused and counted
  STRCMP_EQUAL("t1,t2", contents(b).c_str());
  CHECK_EQUAL(1u, b.stats().dropped_events);
  b.requeue_in_flight();
  CHECK_EQUAL(0u, b.in_flight());
  CHECK_TRUE(b.push(msg(kEvt, "e1")) != 0);
  STRCMP_EQUAL("t2,e1", contents(b).c_str());
}
