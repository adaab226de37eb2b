// An in-process provider for engine tests: `type: memory` with `world: NAME`. Each world is a
// primary plus N authoritative servers whose copies the test syncs (or lets sync at once), and
// a switch to make the next operations fail.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "danehook/error.hpp"
#include "danehook/provider.hpp"

namespace danehook::testing {

struct MemoryWorld {
    std::vector<TlsaRecord> primary;
    std::vector<std::vector<TlsaRecord>> servers = std::vector<std::vector<TlsaRecord>>(2);
    bool auto_sync = true;           // servers copy the primary after every change
    int fail_next_operations = 0;    // list/apply calls that throw before doing anything
    int fail_next_applies = 0;       // apply calls that throw before doing anything
    ProviderFailure failure = ProviderFailure::transient;
    int list_calls = 0;
    int apply_calls = 0;
    int observe_calls = 0;
    std::vector<ChangeSet> applied;

    void sync() {
        for (auto& server : servers) server = primary;
    }
    bool has(const std::string& owner, const TlsaRdata& rdata) const;
    std::vector<TlsaRecord> at(const std::string& owner) const;
};

// The named world (created on first use); reset_memory_worlds() empties all of them.
MemoryWorld& memory_world(const std::string& name);
void reset_memory_worlds();

// Adds `type: memory` to the registry (idempotent).
void register_memory_provider();

}  // namespace danehook::testing
