"""End an interactive `plumb repl --rollback-on-exit` the hard way.

Usage: pty_end.py hup|term
Starts the REPL on a pseudo-terminal, makes a namespace, then either closes
the terminal (the kernel sends SIGHUP, as when an SSH connection drops or a
tmux session is killed) or sends SIGTERM while it waits at the prompt.
Prints "exited N" with the REPL's exit status, or "still running" (then
kills it) if it did not leave within 10 s.
"""
import os, pty, select, signal, sys, time

mode = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("plumb", ["plumb", "repl", "--rollback-on-exit"])

def read_until(text, timeout):
    seen, end = b"", time.time() + timeout
    while time.time() < end and text not in seen:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return text in seen

read_until(b"plumb> ", 10)
os.write(fd, b'netns("held");\r')
if not read_until(b"netns held", 10):
    print("the statement did not run")
if mode == "hup":
    os.close(fd)
else:
    read_until(b"plumb> ", 5)
    os.kill(pid, signal.SIGTERM)
deadline = time.time() + 10
while time.time() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print("exited", os.waitstatus_to_exitcode(status))
        break
    time.sleep(0.1)
else:
    print("still running")
    os.kill(pid, signal.SIGKILL)
