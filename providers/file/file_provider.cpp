// `type: file`: TLSA records kept in a plain file of zone-file lines that danehook owns.
//
// For demos, tests, and setups where another program ships the file to the DNS servers. The
// file itself is the only "authoritative server": confirmation reads it back.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "danehook/dns_name.hpp"
#include "danehook/error.hpp"
#include "danehook/file_io.hpp"
#include "danehook/provider.hpp"

namespace danehook {
namespace {

class FileLock {
public:
    explicit FileLock(const std::filesystem::path& path) {
        auto lock_path = path;
        lock_path += ".lock";
        fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) {
            throw ProviderError(ProviderFailure::configuration, lock_path.string() + ": cannot lock");
        }
    }
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_ = -1;
};

class FileProvider : public Provider {
public:
    FileProvider(std::filesystem::path path, std::string zone) : path_(std::move(path)), zone_(std::move(zone)) {}

    std::string zone_for(const std::string& owner, const std::string& configured_zone) override {
        std::string zone = !configured_zone.empty() ? configured_zone : zone_;
        if (zone.empty()) {
            throw ProviderError(ProviderFailure::configuration, "file provider: set 'zone' on the certificate or the provider");
        }
        if (!is_in_zone(owner, zone)) {
            throw ProviderError(ProviderFailure::configuration, owner + " is outside zone " + zone);
        }
        return zone;
    }

    std::vector<PublishedRecord> list(const std::string&, const std::string& owner) override {
        std::vector<PublishedRecord> result;
        for (auto& record : read_records()) {
            if (record.owner == owner) result.push_back({record, ""});
        }
        return result;
    }

    void apply(const ChangeSet& changes) override {
        FileLock lock(path_);
        auto records = read_records();
        for (const auto& deletion : changes.deletions) {
            std::erase_if(records, [&](const TlsaRecord& r) {
                return r.owner == deletion.record.owner && r.rdata == deletion.record.rdata;
            });
        }
        for (const auto& addition : changes.additions) {
            bool present = std::any_of(records.begin(), records.end(), [&](const TlsaRecord& r) {
                return r.owner == addition.owner && r.rdata == addition.rdata;
            });
            if (!present) records.push_back(addition);
        }
        std::string text = "; TLSA records managed by danehook (type: file). Do not edit while danehook runs.\n";
        for (const auto& record : records) {
            text += record.owner + " " + std::to_string(record.ttl) + " IN TLSA " + record.rdata.presentation() + "\n";
        }
        try {
            write_file_atomic(path_, text, 0644);
        } catch (const Error& e) {
            throw ProviderError(ProviderFailure::transient, e.what());
        }
    }

    std::vector<ServerAnswer> observe(const std::string&, const std::string& owner) override {
        ServerAnswer answer;
        answer.server = "file:" + path_.string();
        try {
            for (const auto& record : list("", owner)) answer.rrset.push_back(record.record.rdata);
            answer.answered = true;
        } catch (const Error& e) {
            answer.error = e.what();
        }
        return {answer};
    }

private:
    std::vector<TlsaRecord> read_records() const {
        std::error_code ec;
        if (!std::filesystem::exists(path_, ec)) return {};
        std::string text;
        try {
            text = read_file(path_);
        } catch (const Error& e) {
            throw ProviderError(ProviderFailure::transient, e.what());
        }
        std::vector<TlsaRecord> records;
        std::istringstream lines(text);
        std::string line;
        int number = 0;
        while (std::getline(lines, line)) {
            ++number;
            auto comment = line.find(';');
            if (comment != std::string::npos) line.erase(comment);
            std::istringstream fields(line);
            std::string owner, ttl, klass, type;
            if (!(fields >> owner)) continue;
            if (!(fields >> ttl >> klass >> type) || klass != "IN" || type != "TLSA") {
                throw ProviderError(ProviderFailure::configuration,
                                    path_.string() + ":" + std::to_string(number) + ": expected 'OWNER TTL IN TLSA U S M HEX'");
            }
            std::string rest;
            std::getline(fields, rest);
            try {
                records.push_back({canonical_name(owner), static_cast<std::uint32_t>(std::stoul(ttl)), TlsaRdata::parse(rest)});
            } catch (const std::exception& e) {
                throw ProviderError(ProviderFailure::configuration, path_.string() + ":" + std::to_string(number) + ": " + e.what());
            }
        }
        return records;
    }

    std::filesystem::path path_;
    std::string zone_;
};

}  // namespace

void register_file_provider(ProviderRegistry& registry) {
    registry.add(ProviderDescriptor{
        "file",
        "TLSA records in a plain zone-file fragment that danehook owns (demos, tests, file shipping)",
        {{"path", "the file danehook writes its TLSA records to", true},
         {"zone", "zone of the records when the certificate entry does not name one", false}},
        [](const ProviderContext& context) -> std::unique_ptr<Provider> {
            std::string zone;
            if (auto configured = context.settings.string("zone")) {
                try {
                    zone = canonical_name(*configured);
                } catch (const std::invalid_argument& e) {
                    throw context.settings.error("zone", e.what());
                }
            }
            return std::make_unique<FileProvider>(*context.settings.path("path"), zone);
        },
        {}});
}

}  // namespace danehook
