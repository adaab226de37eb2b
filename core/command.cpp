#include "danehook/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace danehook {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Pipe {
    int read_end = -1;
    int write_end = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
        read_end = fds[0];
        write_end = fds[1];
    }
    ~Pipe() {
        close_read();
        close_write();
    }
    void close_read() {
        if (read_end >= 0) ::close(read_end);
        read_end = -1;
    }
    void close_write() {
        if (write_end >= 0) ::close(write_end);
        write_end = -1;
    }
};

std::string first_line(const std::string& text) {
    auto start = text.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) return "";
    auto end = text.find('\n', start);
    return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::mutex withheld_mutex;
std::vector<std::string>& withheld_variables() {
    static std::vector<std::string> variables;
    return variables;
}

std::vector<std::string> withheld_snapshot() {
    std::lock_guard lock(withheld_mutex);
    return withheld_variables();
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, const CommandOptions& options,
                             const std::vector<std::string>& withheld, Pipe& in, Pipe& out, Pipe& err) {
    ::setpgid(0, 0);
    ::dup2(in.read_end, STDIN_FILENO);
    ::dup2(out.write_end, STDOUT_FILENO);
    ::dup2(err.write_end, STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    for (const auto& variable : withheld) ::unsetenv(variable.c_str());
    for (const auto& assignment : options.extra_environment) ::putenv(const_cast<char*>(assignment.c_str()));
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    std::string message = "cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, message.data(), message.size());
    (void)ignored;
    ::_exit(127);
}

void kill_group(pid_t pid) {
    ::kill(-pid, SIGTERM);
    for (int i = 0; i < 20; ++i) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            ::kill(-pid, SIGKILL);  // stragglers in the group
            return;
        }
        ::usleep(50'000);
    }
    ::kill(-pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
}

}  // namespace

std::string CommandResult::describe() const {
    if (timed_out) return "timed out";
    if (output_overflow) return "was killed for writing too much output";
    std::string text = exit_status >= 0 ? "exited with status " + std::to_string(exit_status) : "was killed by a signal";
    std::string detail = first_line(errors);
    if (detail.empty()) detail = first_line(output);
    if (!detail.empty()) text += ": " + detail;
    return text;
}

void withhold_from_children(const std::string& variable) {
    std::lock_guard lock(withheld_mutex);
    auto& variables = withheld_variables();
    if (std::find(variables.begin(), variables.end(), variable) == variables.end()) variables.push_back(variable);
}

CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
    if (argv.empty() || argv[0].empty()) throw std::invalid_argument("empty command");
    auto withheld = withheld_snapshot();  // copied before fork: the child must not lock
    Pipe in, out, err;
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) exec_child(argv, options, withheld, in, out, err);

    in.close_read();
    out.close_write();
    err.close_write();
    ::fcntl(in.write_end, F_SETFL, O_NONBLOCK);
    if (options.input.empty()) in.close_write();

    CommandResult result;
    std::size_t input_written = 0;
    auto deadline = SteadyClock::now() + options.timeout;
    while (out.read_end >= 0 || err.read_end >= 0) {
        auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
        if (remaining.count() <= 0) {
            result.timed_out = true;
            break;
        }
        if (result.output_overflow) break;
        pollfd fds[3];
        nfds_t count = 0;
        auto watch = [&](int fd, short events) {
            if (fd >= 0) fds[count++] = {fd, events, 0};
        };
        watch(out.read_end, POLLIN);
        watch(err.read_end, POLLIN);
        watch(in.write_end, POLLOUT);
        int ready = ::poll(fds, count, static_cast<int>(std::min<long long>(remaining.count(), 1000)));
        if (ready < 0 && errno != EINTR) break;
        for (nfds_t i = 0; i < count; ++i) {
            if (fds[i].revents == 0) continue;
            if (fds[i].fd == in.write_end) {
                ssize_t n = ::write(in.write_end, options.input.data() + input_written, options.input.size() - input_written);
                if (n > 0) input_written += static_cast<std::size_t>(n);
                if (n < 0 && errno != EAGAIN && errno != EINTR) input_written = options.input.size();
                if (input_written >= options.input.size()) in.close_write();
                continue;
            }
            char buffer[8192];
            ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            Pipe& source = fds[i].fd == out.read_end ? out : err;
            if (n > 0) {
                (fds[i].fd == out.read_end ? result.output : result.errors).append(buffer, static_cast<std::size_t>(n));
                if (result.output.size() + result.errors.size() > options.max_output) {
                    result.output_overflow = true;
                    break;
                }
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                source.close_read();
            }
        }
    }
    in.close_write();
    if (result.timed_out || result.output_overflow) {
        kill_group(pid);
        return result;
    }
    // Output is closed; the child may still be running (it closed its descriptors).
    int status = 0;
    while (true) {
        pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) return result;
        if (SteadyClock::now() >= deadline) {
            result.timed_out = true;
            kill_group(pid);
            return result;
        }
        ::usleep(5'000);
    }
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace danehook
