#include "danehook/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <thread>

#include "danehook/error.hpp"
#include "danehook/file_io.hpp"

namespace danehook {
namespace {

using nlohmann::json;

// The journal is read back after crashes and hand edits: a field that is not an integer in range
// (1e300, -1 for a TTL, 2.5) is corruption, never a value to convert.
template <typename Integer>
Integer integer_at(const json& object, const char* key) {
    const json& value = object.at(key);
    if (!value.is_number_integer()) {
        throw std::invalid_argument(std::string("'") + key + "' is not an integer");
    }
    if (value.is_number_unsigned()) {
        auto number = value.get<std::uint64_t>();
        if (number > static_cast<std::uint64_t>(std::numeric_limits<Integer>::max())) {
            throw std::out_of_range(std::string("'") + key + "' is out of range");
        }
        return static_cast<Integer>(number);
    }
    auto number = value.get<std::int64_t>();
    if (number < static_cast<std::int64_t>(std::numeric_limits<Integer>::min()) ||
        (number > 0 && static_cast<std::uint64_t>(number) >
                           static_cast<std::uint64_t>(std::numeric_limits<Integer>::max()))) {
        throw std::out_of_range(std::string("'") + key + "' is out of range");
    }
    return static_cast<Integer>(number);
}

RecordState state_from_string(const std::string& text) {
    if (text == "publishing") return RecordState::publishing;
    if (text == "published") return RecordState::published;
    if (text == "withdrawing") return RecordState::withdrawing;
    throw std::invalid_argument("unknown record state '" + text + "'");
}

json identity_to_json(const CertificateIdentity& identity) {
    return {{"certificate", identity.certificate}, {"key", identity.key}, {"records", identity.records}};
}

CertificateIdentity identity_from_json(const json& j) {
    CertificateIdentity identity;
    identity.certificate = j.at("certificate").get<std::string>();
    identity.key = j.at("key").get<std::string>();
    identity.records = j.at("records").get<std::vector<std::string>>();
    return identity;
}

json record_to_json(const JournalRecord& r) {
    return {{"provider", r.provider},
            {"zone", r.zone},
            {"owner", r.record.owner},
            {"ttl", r.record.ttl},
            {"rdata", r.record.rdata.presentation()},
            {"state", to_string(r.state)},
            {"desired", r.desired},
            {"preexisting", r.preexisting},
            {"origin_checked", r.origin_checked},
            {"role", r.role},
            {"added_at", r.added_at},
            {"published_at", r.published_at},
            {"confirmed_at", r.confirmed_at},
            {"retired_at", r.retired_at},
            {"provider_id", r.provider_id},
            {"last_error", r.last_error}};
}

JournalRecord record_from_json(const json& j) {
    JournalRecord r;
    r.provider = j.at("provider").get<std::string>();
    r.zone = j.at("zone").get<std::string>();
    r.record.owner = j.at("owner").get<std::string>();
    r.record.ttl = integer_at<std::uint32_t>(j, "ttl");
    r.record.rdata = TlsaRdata::parse(j.at("rdata").get<std::string>());
    r.state = state_from_string(j.at("state").get<std::string>());
    r.desired = j.at("desired").get<bool>();
    r.preexisting = j.at("preexisting").get<bool>();
    r.origin_checked = j.value("origin_checked", true);
    r.role = j.at("role").get<std::string>();
    r.added_at = integer_at<EpochSeconds>(j, "added_at");
    r.published_at = integer_at<EpochSeconds>(j, "published_at");
    r.confirmed_at = integer_at<EpochSeconds>(j, "confirmed_at");
    r.retired_at = integer_at<EpochSeconds>(j, "retired_at");
    r.provider_id = j.at("provider_id").get<std::string>();
    r.last_error = j.at("last_error").get<std::string>();
    return r;
}

}  // namespace

std::string record_key(const std::string& owner, const TlsaRdata& rdata) { return owner + "|" + rdata.presentation(); }

const char* to_string(RecordState state) {
    switch (state) {
        case RecordState::publishing: return "publishing";
        case RecordState::published: return "published";
        case RecordState::withdrawing: return "withdrawing";
    }
    return "?";
}

std::string journal_to_json(const CertificateJournal& journal) {
    json j;
    j["schema"] = journal_schema_version;
    j["name"] = journal.name;
    j["deployed"] = identity_to_json(journal.deployed);
    if (journal.activation) {
        j["activation"] = {{"identity", identity_to_json(journal.activation->identity)},
                           {"certificate_file", journal.activation->certificate_file},
                           {"chain_file", journal.activation->chain_file},
                           {"key_file", journal.activation->key_file},
                           {"since", journal.activation->since},
                           {"attempts", journal.activation->attempts},
                           {"last_error", journal.activation->last_error}};
    } else {
        j["activation"] = nullptr;
    }
    j["records"] = json::array();
    for (const auto& record : journal.records) j["records"].push_back(record_to_json(record));
    j["last_error"] = journal.last_error;
    j["last_error_at"] = journal.last_error_at;
    j["updated_at"] = journal.updated_at;
    return j.dump() + "\n";
}

CertificateJournal journal_from_json(const std::string& text, const std::string& origin) {
    try {
        json j = json::parse(text.data(), text.data() + text.size());
        int schema = integer_at<int>(j, "schema");
        if (schema != journal_schema_version) {
            throw Error(ExitCode::failure, origin + ": journal schema " + std::to_string(schema) +
                                               " is not supported by this danehook (expects " +
                                               std::to_string(journal_schema_version) + ")");
        }
        CertificateJournal journal;
        journal.name = j.at("name").get<std::string>();
        journal.deployed = identity_from_json(j.at("deployed"));
        if (!j.at("activation").is_null()) {
            const auto& a = j.at("activation");
            PendingActivation activation;
            activation.identity = identity_from_json(a.at("identity"));
            activation.certificate_file = a.at("certificate_file").get<std::string>();
            activation.chain_file = a.at("chain_file").get<std::string>();
            activation.key_file = a.at("key_file").get<std::string>();
            activation.since = integer_at<EpochSeconds>(a, "since");
            activation.attempts = integer_at<int>(a, "attempts");
            activation.last_error = a.at("last_error").get<std::string>();
            journal.activation = activation;
        }
        for (const auto& record : j.at("records")) journal.records.push_back(record_from_json(record));
        journal.last_error = j.at("last_error").get<std::string>();
        journal.last_error_at = integer_at<EpochSeconds>(j, "last_error_at");
        journal.updated_at = integer_at<EpochSeconds>(j, "updated_at");
        return journal;
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(ExitCode::failure, origin + ": journal is corrupt (" + std::string(e.what()) +
                                           "); danehook will not guess what it published: restore it from " + origin +
                                           ".prev or inspect it by hand");
    }
}

JournalStore::JournalStore(std::filesystem::path state_dir) : state_dir_(std::move(state_dir)) {
    ensure_private_directory(state_dir_);
    ensure_private_directory(state_dir_ / "journal");
    ensure_private_directory(state_dir_ / "due");
}

std::filesystem::path JournalStore::journal_path(const std::string& name) const {
    return state_dir_ / "journal" / (name + ".json");
}

std::optional<CertificateJournal> JournalStore::load(const std::string& name, FileStamp* stamp) const {
    auto path = journal_path(name);
    std::string text;
    try {
        text = read_file(path, stamp);
    } catch (const InputError& e) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) return std::nullopt;
        throw Error(ExitCode::failure, e.what());
    }
    auto journal = journal_from_json(text, path.string());
    if (journal.name != name) throw Error(ExitCode::failure, path.string() + ": journal belongs to '" + journal.name + "'");
    return journal;
}

void JournalStore::save(const CertificateJournal& journal, std::optional<EpochSeconds> next_due) {
    auto path = journal_path(journal.name);
    // Keep the previous version: a journal damaged outside danehook can be restored from it.
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
        auto previous = path;
        previous += ".prev";
        std::filesystem::remove(previous, ec);
        if (::link(path.c_str(), previous.c_str()) != 0 && errno != EEXIST) {
            // Not fatal: the new journal is still written atomically.
        }
    }
    write_file_atomic(path, journal_to_json(journal), 0600, true);
    auto marker = state_dir_ / "due" / journal.name;
    if (next_due) {
        write_file_atomic(marker, std::to_string(*next_due) + "\n", 0600, true);
    } else if (std::filesystem::exists(marker, ec)) {
        std::filesystem::remove(marker, ec);
        fsync_directory(marker.parent_path());
    }
}

std::vector<std::string> JournalStore::names() const {
    std::vector<std::string> result;
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(state_dir_ / "journal", ec)) {
        auto file = item.path().filename().string();
        if (file.size() > 5 && file.ends_with(".json")) result.push_back(file.substr(0, file.size() - 5));
    }
    std::sort(result.begin(), result.end());
    return result;
}

std::vector<std::pair<std::string, EpochSeconds>> JournalStore::due() const {
    std::vector<std::pair<std::string, EpochSeconds>> result;
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(state_dir_ / "due", ec)) {
        auto name = item.path().filename().string();
        if (name.find(".tmp-") != std::string::npos) continue;
        EpochSeconds when = 0;
        try {
            when = std::stoll(read_file(item.path()));
        } catch (const std::exception&) {
            when = 0;  // unreadable marker: treat as due now, the journal is the truth
        }
        result.emplace_back(name, when);
    }
    std::sort(result.begin(), result.end());
    return result;
}

StateLock::StateLock(const std::filesystem::path& state_dir, std::chrono::seconds timeout) {
    auto path = state_dir / "lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) throw Error(ExitCode::failure, path.string() + ": cannot open lock file: " + std::strerror(errno));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int error_number = errno;
            ::close(fd_);
            throw Error(ExitCode::failure, path.string() + ": cannot lock: " + std::strerror(error_number));
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            char holder[32] = {};
            ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
            std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "?";
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
            ::close(fd_);
            throw LockError(path.string() + ": another danehook (pid " + pid + ") holds the state lock; gave up after " +
                            std::to_string(timeout.count()) + " s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) {
        ssize_t ignored = ::pwrite(fd_, pid.data(), pid.size(), 0);
        (void)ignored;
    }
}

StateLock::~StateLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace danehook
