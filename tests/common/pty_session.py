"""Drive an interactive program through a pseudo-terminal, as a person would.

Usage: pty_session.py STEPS.json -- COMMAND...
The JSON file holds a list of ["send", text] and ["expect", regex] steps; an expect
waits (up to 15 s) for the regex in the terminal output since the previous
expect, with ANSI escapes removed. The whole transcript is printed at the end;
the exit status is 1 when an expect timed out, else the program's own status.
"""
import fcntl, json, os, pty, re, select, struct, sys, termios, time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[>=]|\r")

def main():
    with open(sys.argv[1]) as f:
        steps = json.load(f)
    command = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    transcript, unread = "", ""

    def read(timeout):
        nonlocal transcript, unread
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(fd, 4096).decode(errors="replace")
        except OSError:
            return False
        if not data:
            return False
        text = ANSI.sub("", data)
        transcript += text
        unread += text
        return True

    for kind, arg in steps:
        if kind == "send":
            os.write(fd, arg.encode())
            time.sleep(0.05)
        else:
            deadline = time.time() + 15
            while not re.search(arg, unread):
                if time.time() > deadline or not read(0.1) and not re.search(arg, unread):
                    print(transcript)
                    print(f"\n--- timed out waiting for {arg!r}", file=sys.stderr)
                    os.kill(pid, 9)
                    sys.exit(1)
            match = re.search(arg, unread)
            unread = unread[match.end():]
    while read(5):
        pass
    _, status = os.waitpid(pid, 0)
    print(transcript)
    sys.exit(os.waitstatus_to_exitcode(status))

main()
