/*
 * lxcrs-init: the minimal PID 1 of lxc-execute (built static by liblxcrs/build.rs and
 * embedded in liblxcrs; see start/init.rs).
 *
 * It runs inside the container after its rootfs is in place, where the host's dynamic
 * loader is out of reach, hence a static C program rather than a copy of a Rust binary.
 * It is exec'd from a sealed memfd, so /proc/1/exe leads to no host file.
 *
 *   lxcrs-init START_FD -- CMD [ARGS...]      (environment: the command's)
 *
 * It closes every fd but stdio and START_FD (the start socket to the monitor), forks
 * CMD, forwards the usual termination and user signals to it, reaps every process
 * reparented to it, and exits with CMD's status (128+signal when CMD was killed). When
 * CMD cannot be exec'd, the reason goes to the monitor over START_FD as a start
 * protocol Error message (tag 7, then the text), as the Rust start child did before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MSG_ERROR 7

static const int forwarded[] = {SIGTERM, SIGINT,  SIGHUP, SIGQUIT, SIGUSR1,
				SIGUSR2, SIGPWR, SIGCONT, SIGWINCH};

static void report(int sock, const char *prog, int err)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%cfailed to exec %s: %s", MSG_ERROR, prog,
			 strerror(err));
	if (n < 0)
		return;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	(void)send(sock, buf, (size_t)n, MSG_NOSIGNAL);
}

/* execve CMD, searching PATH of the environment when CMD has no '/'; returns the
 * errno to report (the last one other than ENOENT/ENOTDIR, else ENOENT). */
static int exec_cmd(char **argv)
{
	const char *prog = argv[0];
	int last = ENOENT;
	if (strchr(prog, '/')) {
		execv(prog, argv);
		return errno;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = DEFAULT_PATH;
	size_t plen = strlen(prog);
	while (*path) {
		const char *end = strchr(path, ':');
		size_t dlen = end ? (size_t)(end - path) : strlen(path);
		if (dlen > 0 && dlen + plen + 2 <= 4096) {
			char cand[4096];
			memcpy(cand, path, dlen);
			cand[dlen] = '/';
			memcpy(cand + dlen + 1, prog, plen + 1);
			execv(cand, argv);
			if (errno != ENOENT && errno != ENOTDIR)
				last = errno;
		}
		if (!end)
			break;
		path = end + 1;
	}
	return last;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "lxcrs-init: usage: lxcrs-init START_FD -- CMD... (run by lxc-execute)\n");
		return 127;
	}
	char *end;
	long fd = strtol(argv[1], &end, 10);
	struct stat st;
	if (*end || fd < 3 || fd > 65535 || fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "lxcrs-init: fd %s is not the start socket\n", argv[1]);
		return 127;
	}
	int sock = (int)fd;
	/* Nothing of the host but stdio and the start socket. */
	if (sock > 3)
		syscall(SYS_close_range, 3u, (unsigned)sock - 1, 0u);
	syscall(SYS_close_range, (unsigned)sock + 1, ~0u, 0u);
	fcntl(sock, F_SETFD, FD_CLOEXEC);

	sigset_t watched, old;
	sigemptyset(&watched);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&watched, forwarded[i]);
	sigaddset(&watched, SIGCHLD);
	/* Blocked before the fork: no signal is lost before the wait loop. */
	if (sigprocmask(SIG_BLOCK, &watched, &old) != 0) {
		report(sock, "the command (cannot block signals in lxcrs-init)", errno);
		return 127;
	}
	pid_t child = fork();
	if (child < 0) {
		report(sock, "the command (cannot fork in lxcrs-init)", errno);
		return 127;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		int err = exec_cmd(argv + 3);
		report(sock, argv[3], err);
		_exit(127);
	}
	close(sock);
	for (;;) {
		int sig = sigwaitinfo(&watched, NULL);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			/* Exiting as PID 1 takes the rest of the pid namespace down. */
			if (WIFEXITED(status))
				_exit(WEXITSTATUS(status));
			if (WIFSIGNALED(status))
				_exit(128 + WTERMSIG(status));
		}
	}
}
