#include "tests/profile/recording_testing.h"

namespace dprof::testing {

using namespace profile;  // NOLINT: test data builder

Recording MakeRecording(int events) {
  Recording r;
  r.metadata = {{"command", "cpu_bound 2"}, {"kernel", "6.18.0"}, {"frequency", "999"}};
  r.event_names = {"cpu-clock", "sched:sched_switch", "off-cpu"};
  r.stacks[1] = {0xffffffff81000010, 0xffffffff81000020};        // kernel
  r.stacks[2] = {0x401136, 0x4011d2, 0x7f12a0029d90};            // user
  r.stacks[3] = {0x401150, 0x4011d2, 0x7f12a0029d90, 0x401040};  // user, deeper
  r.stacks[7] = {};                                              // an unwind that found none
  r.user_stacks[cookie::MakeCookie(0, 1)] = {.stack = 2};
  r.user_stacks[cookie::MakeCookie(1, 3)] = {.stack = 3, .native = true};
  r.user_stacks[cookie::MakeCookie(1, 5)] = {.stack = 7,
                                             .reason = unwind::StopReason::kNoUnwindInfo};
  const uint8_t fields[] = {1, 2, 3, 4, 5, 6, 7, 8};
  for (int i = 0; i < events; ++i) {
    Event e;
    e.kind = i % 7 == 3   ? event::EventKind::kOffCpu
             : i % 5 == 1 ? event::EventKind::kTracepoint
                          : event::EventKind::kSample;
    e.event = e.kind == event::EventKind::kOffCpu       ? 2
              : e.kind == event::EventKind::kTracepoint ? 1
                                                        : 0;
    e.pid = 100 + i % 3;
    e.tid = e.pid + i % 2;
    e.cpu = i % 2;
    e.time_ns = 1'000'000'000ull + static_cast<uint64_t>(i) * 1'001'000 - (i % 7 == 3 ? 500 : 0);
    e.weight = e.kind == event::EventKind::kTracepoint ? 1 : 1'001'000 + i % 11;
    e.user_mode = i % 4 == 0;
    e.kernel_stack = e.user_mode ? kNoStack : 1;
    switch (i % 6) {
      case 0:
        e.user = event::UserStack::kInline;
        e.user_stack = 3;
        break;
      case 1:
        e.user = event::UserStack::kDropped;
        break;
      case 2:
        e.user = event::UserStack::kNone;
        break;
      default:
        e.user = event::UserStack::kDeferred;
        e.cookie = i % 6 == 3   ? cookie::MakeCookie(0, 1)
                   : i % 6 == 4 ? cookie::MakeCookie(1, 3)
                                : cookie::MakeCookie(1, 9);  // never delivered
    }
    if (e.kind == event::EventKind::kTracepoint) {
      e.raw_offset = static_cast<uint32_t>(r.raw.size());
      e.raw_size = 1 + i % 8;
      r.raw.insert(r.raw.end(), fields, fields + e.raw_size);
    }
    r.events.push_back(e);
  }
  r.mappings = {{.pid = 100,
                 .time_ns = 5,
                 .start = 0x400000,
                 .end = 0x402000,
                 .pgoff = 0,
                 .prot = 5,
                 .path = "/usr/bin/cpu_bound",
                 .build_id = std::string("\x01\x02\x00\xff", 4)},
                {.pid = 101,
                 .start = 0x7f12a0000000,
                 .end = 0x7f12a0100000,
                 .pgoff = 0x26000,
                 .prot = 5,
                 .path = "/usr/lib/x86_64-linux-gnu/libc.so.6"}};
  r.threads = {{.pid = 100, .tid = 100, .time_ns = 1, .exec = true, .comm = "cpu_bound"},
               {.pid = 100, .tid = 101, .time_ns = 2, .comm = "worker-1"}};
  r.tasks = {{.pid = 100, .ppid = 100, .tid = 101, .ptid = 100, .time_ns = 2},
             {.exit = true, .pid = 100, .ppid = 100, .tid = 101, .ptid = 100, .time_ns = 9}};
  r.symbols = {{.module = "/usr/bin/cpu_bound",
                .offset = 0x1136,
                .frames = {{.function = "square", .file = "math.h", .line = 3, .inlined = true},
                           {.function = "hot_a", .file = "main.cc", .line = 40}}},
               {.module = "[kernel.kallsyms]",
                .offset = 0xffffffff81000010,
                .frames = {{.function = "asm_sysvec_apic_timer_interrupt"}}},
               {.module = "/tmp/gone.so", .offset = 0x10, .deleted = true}};
  r.symbol_of[{100, 0x401136}] = 0;
  r.symbol_of[{101, 0x401136}] = 0;
  r.symbol_of[{kKernelPid, 0xffffffff81000010}] = 1;
  r.symbol_of[{102, 0x7f12a0029d90}] = 2;
  r.mapped_symbol_of[{0, 0x401136}] = 0;  // (mapping, address)
  r.mapped_symbol_of[{1, 0x7f12a0029d90}] = 2;
  r.counters = {{"samples", static_cast<uint64_t>(events)}, {"lost", 0}, {"engine.unwinds", 12}};
  r.thread_counters[100] = {{"samples", 7}, {"lost", 1}};
  return r;
}

profile::Recording SymbolizedRecording() {
  using profile::Event;
  using profile::Symbol;
  using profile::SymbolFrame;
  profile::Recording r;
  r.metadata["command"] = "/app/work";
  r.event_names = {"cpu-clock"};
  r.threads = {{.pid = 10, .tid = 10, .comm = "app"}, {.pid = 10, .tid = 11, .comm = "worker"}};
  r.mappings = {{.pid = 10,
                 .start = 0x1000,
                 .end = 0x4000,
                 .prot = 5,
                 .path = "/app/work",
                 .build_id = "\x0a\x0b\x0c"}};
  r.stacks[1] = {0x1010, 0x2010, 0x3010};                  // hot_a, work, main
  r.stacks[2] = {0x1110, 0x2010, 0x3010};                  // hot_b in inlined_helper, work, main
  r.stacks[3] = {0xffffffff81000099, 0xffffffff81001010};  // unnamed, do_syscall_64
  r.user_stacks[1] = {.stack = 1};
  auto event = [](uint32_t tid) {
    return Event{.pid = 10, .tid = tid, .time_ns = 1, .weight = 1'000'000};
  };
  Event e = event(10);
  e.user = event::UserStack::kInline;
  e.user_stack = 1;
  r.events.push_back(e);
  e.user = event::UserStack::kDeferred;
  e.user_stack = profile::kNoStack;
  e.cookie = 1;
  r.events.push_back(e);
  r.events.push_back(e);
  e = event(11);
  e.user = event::UserStack::kInline;
  e.user_stack = 2;
  r.events.push_back(e);
  e = event(10);
  e.kernel_stack = 3;
  e.user = event::UserStack::kDeferred;
  e.cookie = 2;  // never delivered
  r.events.push_back(e);

  auto add = [&r](uint32_t pid, uint64_t address, Symbol symbol) {
    r.symbol_of[{pid, address}] = static_cast<uint32_t>(r.symbols.size());
    r.symbols.push_back(std::move(symbol));
  };
  add(10, 0x1010, {.module = "/app/work", .offset = 0x1010, .frames = {{.function = "hot_a"}}});
  add(10, 0x2010, {.module = "/app/work", .offset = 0x2010, .frames = {{.function = "work"}}});
  add(10, 0x3010, {.module = "/app/work", .offset = 0x3010, .frames = {{.function = "main"}}});
  add(10, 0x1110,
      {.module = "/app/work",
       .offset = 0x1110,
       .frames = {{.function = "hot_b", .file = "work.cc", .line = 7, .inlined = true},
                  {.function = "inlined_helper", .file = "work.cc", .line = 12}}});
  add(profile::kKernelPid, 0xffffffff81000099, {.module = "[kernel.kallsyms]", .offset = 0x99});
  add(profile::kKernelPid, 0xffffffff81001010,
      {.module = "[kernel.kallsyms]", .offset = 0x1010, .frames = {{.function = "do_syscall_64"}}});
  r.counters = {{"samples", 5},     {"lost records", 2},   {"engine.requests", 4},
                {"engine.jobs", 3}, {"engine.unwinds", 2}, {"engine.content hits", 1}};
  return r;
}

}  // namespace dprof::testing
