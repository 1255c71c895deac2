#include "tracer/internal/address_spaces.h"

#include <string>
#include <utility>

namespace dprof::tracer::internal {

AddressSpaces::AddressSpaces(unwind::BinaryCache* binaries, ReadMaps read_maps)
    : binaries_(binaries), read_maps_(std::move(read_maps)) {}

std::shared_ptr<unwind::AddressSpace> AddressSpaces::Empty(uint32_t pid) const {
  return std::make_shared<unwind::AddressSpace>(binaries_, "", read_maps_ ? pid : 0);
}

bool AddressSpaces::Attach(uint32_t pid, Announce announce) {
  if (!read_maps_) return false;
  absl::StatusOr<unwind::AddressSpace> space = read_maps_(pid);
  if (!space.ok()) return false;
  announce(pid, *space);
  spaces_[pid] = std::make_shared<unwind::AddressSpace>(*std::move(space));
  synced_.insert(pid);
  return true;
}

void AddressSpaces::Launched(uint32_t pid) { spaces_[pid] = Empty(pid); }

void AddressSpaces::Exec(uint32_t pid) {
  spaces_[pid] = Empty(pid);
  synced_.insert(pid);
}

void AddressSpaces::Fork(uint32_t parent, uint32_t child) {
  auto it = spaces_.find(parent);
  if (it == spaces_.end()) return;
  // Copied out first: inserting the child may rehash the map under `it`.
  std::shared_ptr<const unwind::AddressSpace> space = it->second;
  spaces_[child] = std::move(space);
  if (synced_.contains(parent)) synced_.insert(child);
}

void AddressSpaces::Map(const event::Mmap2Record& m) {
  auto it = spaces_.find(m.pid);
  auto space =
      it == spaces_.end() ? Empty(m.pid) : std::make_shared<unwind::AddressSpace>(*it->second);
  space->Map({.start = m.address,
              .end = m.address + m.length,
              .pgoff = m.pgoff,
              .prot = m.prot,
              .path = std::string(m.filename),
              .build_id = std::string(m.build_id.begin(), m.build_id.end())});
  spaces_[m.pid] = std::move(space);
}

std::shared_ptr<const unwind::AddressSpace> AddressSpaces::For(uint32_t pid, Announce announce) {
  if (synced_.insert(pid).second && read_maps_) {
    absl::StatusOr<unwind::AddressSpace> space = read_maps_(pid);
    if (space.ok() && !space->mappings().empty()) {
      announce(pid, *space);
      spaces_[pid] = std::make_shared<unwind::AddressSpace>(*std::move(space));
    }
  }
  auto [it, inserted] = spaces_.try_emplace(pid);
  if (inserted) it->second = Empty(pid);
  return it->second;
}

std::shared_ptr<const unwind::AddressSpace> AddressSpaces::Of(uint32_t pid) const {
  auto it = spaces_.find(pid);
  return it == spaces_.end() ? nullptr : it->second;
}

}  // namespace dprof::tracer::internal
