/*
 * linuxvm-run: the user-space half of the Linux reference VM (tools/linuxvm, docs/linux-vm.md).
 *
 * A static program (built on the host with `gcc -static`, cached under ~/.cache/axle/linuxvm)
 * that sits in the VM's initramfs as /sbin/linuxvm-run, with /init a symlink to it.
 *
 *   As /init (pid 1, started by the kernel):
 *       writes `axle: user` on the status channel (its first action), then
 *       execs `/bin/sh /etc/linuxvm/init.sh` (mounts, runs the command, powers off).
 *
 *   linuxvm-run run (--port 0xNNN | --file PATH) CMDFILE ENVFILE
 *       runs the command the way Axle's init (images/init) does: argv from CMDFILE and the
 *       environment from ENVFILE (each string NUL-terminated, as tools/run-qemu writes
 *       /etc/axle/cmd and /etc/axle/env; empty strings are kept), argv[0] looked up on the
 *       environment's PATH when it has no slash, in a session of its own with the console as
 *       its controlling terminal; reaps orphans while it waits; then writes
 *       `axle: exit N` or `axle: signal N` on the status channel. Without CMDFILE (or an
 *       empty one) it runs an interactive /bin/sh.
 *
 * The status channel is the one Axle's kernel uses: QEMU's isa-debugcon device at I/O port
 * 0x4f0 (reached with ioperm(); we are root), so the host side is tools/axletools/runner.py
 * unchanged. `--file` appends the lines to a file instead (the unit tests run this on the
 * host; there it must never touch I/O ports).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define STATUS_PORT 0x4f0
#define INIT_SCRIPT "/etc/linuxvm/init.sh"

static int status_port = -1;
static const char *status_file;

static void say(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dprintf(2, "linuxvm-run: %s\n", msg);
}

static int open_port(int port)
{
    if (ioperm((unsigned long)port, 1, 1) != 0) {
        say("ioperm(0x%x): %s", port, strerror(errno));
        return -1;
    }
    status_port = port;
    return 0;
}

/* One status line ("axle: exit 3"), written in one go. */
static void report(const char *line)
{
    size_t n = strlen(line);
    if (status_port >= 0) {
        for (size_t i = 0; i < n; i++)
            outb((unsigned char)line[i], (unsigned short)status_port);
    } else if (status_file) {
        int fd = open(status_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            say("%s: %s", status_file, strerror(errno));
            return;
        }
        if (write(fd, line, n) != (ssize_t)n)
            say("%s: short write", status_file);
        close(fd);
    }
}

/* The NUL-terminated strings of a file (a last string without its NUL counts too), as a
 * NULL-terminated vector. NULL if the file cannot be read. */
static char **read_strings(const char *path, size_t *count)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            close(fd);
            return NULL;
        }
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            continue;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > 0 && buf[len - 1] != '\0')
        buf[len++] = '\0'; /* room was kept: cap + 1 */
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\0';
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        v[i] = p;
        p += strlen(p) + 1;
    }
    *count = n;
    return v;
}

/* argv[0] as given when it has a slash, else the first executable PATH entry (PATH from
 * the command's environment), else as given (execve then fails with ENOENT). */
static char *resolve(char *prog, char **env)
{
    if (strchr(prog, '/') || !*prog)
        return prog;
    const char *path = "/bin:/sbin:/usr/bin:/usr/sbin";
    for (char **e = env; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    size_t plen = strlen(prog);
    while (*path) {
        const char *end = strchrnul(path, ':');
        size_t dlen = (size_t)(end - path);
        char *full = malloc(dlen + plen + 3);
        if (!full)
            break;
        if (dlen == 0)
            sprintf(full, "./%s", prog);
        else
            sprintf(full, "%.*s/%s", (int)dlen, path, prog);
        struct stat st;
        if (access(full, X_OK) == 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode))
            return full;
        free(full);
        path = *end ? end + 1 : end;
    }
    return prog;
}

static pid_t spawn(char **argv, char **env)
{
    char *path = resolve(argv[0], env);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    ioctl(0, TIOCSCTTY, 1);
    tcsetpgrp(0, getpid());
    execve(path, argv, env);
    int err = errno;
    say("cannot run %s: %s", argv[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

static int cmd_run(int argc, char **argv)
{
    int i = 0;
    if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
        if (open_port((int)strtol(argv[i + 1], NULL, 0)) != 0)
            return 1;
        i += 2;
    } else if (i + 1 < argc && strcmp(argv[i], "--file") == 0) {
        status_file = argv[i + 1];
        i += 2;
    } else {
        say("usage: linuxvm-run run (--port 0xNNN | --file PATH) [CMDFILE [ENVFILE]]");
        return 2;
    }
    const char *cmd_file = i < argc ? argv[i++] : NULL;
    const char *env_file = i < argc ? argv[i++] : NULL;

    size_t envc = 0, cmdc = 0;
    char **env = env_file ? read_strings(env_file, &envc) : NULL;
    if (!env || envc == 0) {
        static char *dflt[] = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin:/add", "HOME=/root", "TERM=linux", NULL};
        env = dflt;
    }
    char **cmd = cmd_file ? read_strings(cmd_file, &cmdc) : NULL;
    if (!cmd || cmdc == 0) {
        static char *shell[] = {"/bin/sh", NULL};
        dprintf(1, "\nLinux reference VM (tools/linuxvm): busybox shell. "
                   "Quit with `exit` (or Ctrl-A x).\n\n");
        cmd = shell;
    }

    /* Orphans are re-parented to us (not to the shell that is pid 1) and reaped below. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTSTP, SIG_IGN);

    pid_t child = spawn(cmd, env);
    if (child < 0) {
        say("fork: %s", strerror(errno));
        report("axle: exit 126\n");
        return 1;
    }
    char line[64];
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            say("waitpid: %s", strerror(errno));
            report("axle: exit 127\n");
            return 1;
        }
        if (pid != child)
            continue;
        if (WIFEXITED(status))
            snprintf(line, sizeof line, "axle: exit %d\n", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            snprintf(line, sizeof line, "axle: signal %d\n", WTERMSIG(status));
        else
            continue;
        break;
    }
    /* Give the console's last bytes to the UART before the status (and so the power-off). */
    tcdrain(1);
    report(line);
    return 0;
}

int main(int argc, char **argv)
{
    if (getpid() == 1) {
        /* The kernel started us as /init: say so first, then the shell does the rest. */
        if (open_port(STATUS_PORT) == 0)
            report("axle: user\n");
        char *sh[] = {"/bin/sh", INIT_SCRIPT, NULL};
        char *env[] = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", "TERM=linux", NULL};
        execve(sh[0], sh, env);
        say("cannot run /bin/sh %s: %s", INIT_SCRIPT, strerror(errno));
        return 1; /* the kernel panics: "Attempted to kill init" -> the runner says 125 */
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    say("usage: linuxvm-run run (--port 0xNNN | --file PATH) [CMDFILE [ENVFILE]]");
    return 2;
}
