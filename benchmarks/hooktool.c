/* A hook tool (or machine command) that asks the benchmark's fake unit agent.
 *
 * Juju's own hook tools are thin clients of the unit agent; this one is too, so a hook
 * pays a process start and a local socket round trip per call, as on a real unit.
 * Request: the tool's name and arguments, NUL-separated, then a second NUL and the
 * standard input when the arguments contain "--file -". Reply: the exit code as text on
 * one line, then what goes to stdout (exit code 0) or stderr (any other).
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0) exit(97);
        data += n;
        len -= (size_t)n;
    }
}

int main(int argc, char **argv) {
    const char *path = getenv("FAKE_JUJU_SOCKET");
    if (path == NULL) return 98;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) return 99;

    int wants_stdin = 0;
    const char *name = basename(argv[0]);
    send_all(fd, name, strlen(name) + 1);
    for (int i = 1; i < argc; i++) {
        send_all(fd, argv[i], strlen(argv[i]) + 1);
        if (strcmp(argv[i], "--file") == 0 && i + 1 < argc && strcmp(argv[i + 1], "-") == 0)
            wants_stdin = 1;
    }
    send_all(fd, "", 1);
    if (wants_stdin) {
        char buf[65536];
        ssize_t n;
        while ((n = read(0, buf, sizeof(buf))) > 0) send_all(fd, buf, (size_t)n);
    }
    shutdown(fd, SHUT_WR);

    char buf[65536];
    ssize_t n;
    int code = -1, out = 1;
    char line[16];
    size_t used = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        ssize_t start = 0;
        while (code < 0 && start < n) {
            char c = buf[start++];
            if (c == '\n') {
                line[used] = '\0';
                code = atoi(line);
                out = code == 0 ? 1 : 2;
            } else if (used < sizeof(line) - 1) {
                line[used++] = c;
            }
        }
        if (start < n) send_all(out, buf + start, (size_t)(n - start));
    }
    close(fd);
    return code < 0 ? 96 : code;
}
