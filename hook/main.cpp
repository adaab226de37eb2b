// danehook: keeps DANE TLSA records in step with ACME certificates.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "danehook/clock.hpp"
#include "danehook/config.hpp"
#include "danehook/engine.hpp"
#include "danehook/error.hpp"
#include "danehook/log.hpp"
#include "hook/check_command.hpp"
#include "hook/install_hooks.hpp"
#include "hook/records_command.hpp"

namespace {

using namespace danehook;

struct RecordsOptions {
    std::string lineage, cert, chain, key, public_key, csr, format = "zone", anchor = "issuer";
    std::vector<std::string> next_keys;
    RecordsRequest request;
};

void add_records_command(CLI::App& app, RecordsOptions& options, std::function<int()>& action) {
    auto* cmd = app.add_subcommand("records", "Print the TLSA records of a certificate (offline)");
    auto* lineage = cmd->add_option("--lineage", options.lineage, "certbot lineage directory (live/NAME)");
    auto* cert = cmd->add_option("--cert", options.cert, "certificate (PEM; a full chain is accepted)");
    lineage->excludes(cert);
    cmd->add_option("--chain", options.chain, "issuer chain (chain.pem or fullchain.pem)");
    cmd->add_option("--key", options.key, "private key; must match the certificate");
    cmd->add_option("--public-key", options.public_key, "public key (PEM: SubjectPublicKeyInfo or PKCS#1 RSA PUBLIC KEY)");
    cmd->add_option("--csr", options.csr, "certificate signing request (PEM)");
    cmd->add_option("--next-key", options.next_keys, "next key to pre-publish (acme.sh Le_Next_Domain_Key)");
    cmd->add_option("--service", options.request.services, "HOST:PORT[/PROTO] (repeatable)")->required();
    cmd->add_option("--record", options.request.records, "\"USAGE SELECTOR MATCHING\", numbers or RFC 7218 names (default \"3 1 1\")");
    cmd->add_option("--ttl", options.request.ttl, "TTL in seconds (default 300)");
    cmd->add_option("--format", options.format, "zone, nsupdate, json or generic");
    cmd->add_option("--trust-anchor", options.anchor, "certificate usage 0/2 records pin: issuer (default) or top (last of the chain given; the server must send it)");
    cmd->callback([&] {
        action = [&options] {
            auto& files = options.request.files;
            if (!options.lineage.empty()) files = certbot_lineage_files(options.lineage);
            if (!options.cert.empty()) files.certificate = options.cert;
            if (!options.chain.empty()) files.chain = options.chain;
            if (!options.key.empty()) files.private_key = options.key;
            if (!options.public_key.empty()) files.public_key = options.public_key;
            if (!options.csr.empty()) files.csr = options.csr;
            for (const auto& path : options.next_keys) files.next_keys.emplace_back(path);
            if (!files.certificate && !files.private_key && !files.public_key && !files.csr) {
                throw Error(ExitCode::usage, "records: give --lineage, --cert, --key, --public-key or --csr");
            }
            try {
                options.request.format = parse_record_format(options.format);
            } catch (const std::invalid_argument& e) {
                throw Error(ExitCode::usage, std::string("--format: ") + e.what());
            }
            if (options.anchor == "issuer") {
                options.request.anchor = TrustAnchor::issuer;
            } else if (options.anchor == "top") {
                options.request.anchor = TrustAnchor::top_of_chain;
            } else {
                throw Error(ExitCode::usage, "--trust-anchor: must be 'issuer' or 'top'");
            }
            std::cout << records_command(options.request);
            return 0;
        };
    });
}

struct GlobalOptions {
    std::string config_path;
    bool verbose = false;
};

struct EngineCommandOptions {
    bool dry_run = false;
    bool force = false;
    bool json = false;
    std::string name, lineage, cert, chain, key, domain;
    std::vector<std::string> next_keys;
};

int print_report(const EngineReport& report) {
    for (const auto& line : report.actions) std::cout << line << "\n";
    return static_cast<int>(report.exit_code);
}

DeploySource deploy_source(const EngineCommandOptions& options) {
    DeploySource source = deploy_source_from_environment([](const char* name) { return std::getenv(name); });
    if (!options.lineage.empty()) {
        source = DeploySource{};
        source.client = "command line";
        source.lineage = options.lineage;
    }
    if (!options.cert.empty()) {
        source = DeploySource{};
        source.client = "command line";
        source.files.certificate = options.cert;
        if (!options.chain.empty()) source.files.chain = options.chain;
        if (!options.key.empty()) source.files.private_key = options.key;
    }
    for (const auto& next : options.next_keys) source.files.next_keys.emplace_back(next);
    if (!options.domain.empty()) source.domains.insert(source.domains.begin(), options.domain);
    source.certificate_name = options.name;
    return source;
}

void add_source_options(CLI::App* cmd, EngineCommandOptions& options) {
    cmd->add_option("--name", options.name, "certificate entry name from the configuration");
    cmd->add_option("--lineage", options.lineage, "certbot lineage directory (default: $RENEWED_LINEAGE)");
    cmd->add_option("--cert", options.cert, "certificate file (default: acme.sh $CERT_PATH)");
    cmd->add_option("--chain", options.chain, "chain file (default: acme.sh $CA_CERT_PATH)");
    cmd->add_option("--key", options.key, "private key file (default: acme.sh $CERT_KEY_PATH)");
    cmd->add_option("--next-key", options.next_keys, "pre-generated next key (default: acme.sh $Le_Next_Domain_Key)");
    cmd->add_option("--domain", options.domain, "domain / lineage name to match (default: $Le_Domain)");
}

void add_engine_commands(CLI::App& app, const GlobalOptions& global, EngineCommandOptions& options,
                         std::function<int()>& action) {
    auto load = [&global](CertificateLoading loading) {
        return load_config(resolve_config_path(global.config_path), loading);
    };

    auto* deploy = app.add_subcommand("deploy", "After a renewal: publish the new records, schedule old ones (certbot --deploy-hook, acme.sh --reloadcmd)");
    add_source_options(deploy, options);
    deploy->add_flag("--dry-run", options.dry_run, "show what would change, touch nothing");
    deploy->callback([&, load] {
        action = [&, load] {
            auto config = load(CertificateLoading::lazy);
            SystemClock clock;
            Engine engine(config, clock, EngineOptions{options.dry_run, false});
            engine.set_activation_check(live_service_activation_check());
            return print_report(engine.deploy(deploy_source(options)));
        };
    });

    auto* run = app.add_subcommand("run", "From a timer: confirm, reload when safe, withdraw old records when safe");
    run->add_flag("--dry-run", options.dry_run, "show what would change, touch nothing");
    run->add_flag("--force", options.force, "withdraw even when the live-service check objects");
    run->callback([&, load] {
        action = [&, load] {
            auto config = load(CertificateLoading::lazy);
            SystemClock clock;
            Engine engine(config, clock, EngineOptions{options.dry_run, options.force});
            engine.set_interlock(live_service_interlock());
            engine.set_activation_check(live_service_activation_check());
            return print_report(engine.run());
        };
    });

    auto* plan = app.add_subcommand("plan", "Show what deploy (given a certificate) and run would do; touches nothing");
    add_source_options(plan, options);
    plan->callback([&, load] {
        action = [&, load] {
            auto config = load(CertificateLoading::lazy);
            SystemClock clock;
            Engine engine(config, clock, EngineOptions{true, false});
            auto source = deploy_source(options);
            int code = 0;
            if (!source.certificate_name.empty() || source.lineage || source.files.certificate) {
                std::cout << "deploy " << (source.certificate_name.empty() ? source.client : source.certificate_name) << ":\n";
                code = print_report(engine.deploy(source));
            }
            std::cout << "run:\n";
            int run_code = print_report(engine.run());
            return code ? code : run_code;
        };
    });

    auto* check = app.add_subcommand("check", "Would a DANE client succeed? DNS on every authoritative server, DNSSEC, live TLS, journal (exit 0 ok, 1 warnings, 2 failures)");
    check->add_option("--name", options.name, "check one certificate entry (default: all)");
    check->add_flag("--json", options.json, "machine-readable output");
    check->callback([&, load] {
        action = [&, load] {
            auto config = load(options.name.empty() ? CertificateLoading::all : CertificateLoading::lazy);
            CheckCommandOptions check_options;
            check_options.name = options.name;
            check_options.json = options.json;
            return check_command(config, check_options, std::cout);
        };
    });

    auto* status = app.add_subcommand("status", "Records published, pending, scheduled for withdrawal, deferred reloads");
    status->add_flag("--json", options.json, "machine-readable output");
    status->callback([&, load] {
        action = [&, load] {
            auto config = load(CertificateLoading::lazy);
            SystemClock clock;
            Engine engine(config, clock);
            std::cout << (options.json ? engine.status_json() : engine.status_text());
            return 0;
        };
    });
}

void add_install_hooks_command(CLI::App& app, InstallHooksOptions& options, std::string& danehook_path,
                               std::function<int()>& action) {
    auto* cmd = app.add_subcommand("install-hooks",
                                   "Place the certbot deploy hook (/etc/letsencrypt/renewal-hooks/deploy/danehook) "
                                   "and the systemd units (/etc/systemd/system/danehook.{service,timer})");
    cmd->add_option("--root", options.root, "install under this directory instead of /");
    cmd->add_option("--danehook", danehook_path, "absolute path the hook and units run (default: this executable)");
    cmd->add_flag("--certbot,!--no-certbot", options.certbot, "the certbot deploy hook (default on)");
    cmd->add_flag("--systemd,!--no-systemd", options.systemd, "the systemd service and timer (default on)");
    cmd->add_flag("--dry-run", options.dry_run, "show what would be written, write nothing");
    cmd->add_flag("--force", options.force, "replace files that differ from danehook's");
    cmd->callback([&] {
        action = [&] {
            options.danehook_path = danehook_path.empty() ? current_executable() : std::filesystem::path(danehook_path);
            for (const auto& line : install_hooks(options)) std::cout << line << "\n";
            if (!options.dry_run && options.systemd && options.root == "/") {
                std::cout << "next: systemctl daemon-reload && systemctl enable --now danehook.timer\n";
            }
            return 0;
        };
    });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"danehook: keeps DANE TLSA records in step with ACME certificates"};
    app.set_version_flag("--version", std::string("danehook ") + DANEHOOK_VERSION);
    app.require_subcommand(1);
    GlobalOptions global;
    app.add_flag("-v,--verbose", global.verbose, "log more detail (never secrets)");
    app.add_option("-c,--config", global.config_path,
                   std::string("configuration file (default: $DANEHOOK_CONFIG or ") + default_config_path + ")");

    std::function<int()> action;
    RecordsOptions records_options;
    add_records_command(app, records_options, action);
    EngineCommandOptions engine_options;
    add_engine_commands(app, global, engine_options, action);
    InstallHooksOptions install_options;
    std::string install_danehook_path;
    add_install_hooks_command(app, install_options, install_danehook_path, action);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::fprintf(stderr, "danehook: error: %s\n", e.what());
        return static_cast<int>(ExitCode::usage);
    }
    log::set_verbose(global.verbose);
    try {
        return action ? action() : 0;
    } catch (const Error& e) {
        log::error(e.what());
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        log::error(e.what());
        return static_cast<int>(ExitCode::failure);
    }
}
