"""One run per workdir: an OS lock held for the whole run.

The lock is `fcntl.flock` on a small file named after the workdir's real path, kept in
the system's temporary directory (not in the workdir, which a run that fails must leave
as it was). The kernel drops a flock when its process ends, however it ends, so a
SIGKILLed run never leaves a stale lock; the file itself only names the last holder
(pid, host, start time, command) for the message a second run gets. It protects runs on
one machine; two machines writing one workdir on a shared filesystem are not covered.
"""

import datetime
import fcntl
import hashlib
import json
import os
import socket
import sys
import tempfile

from fewgen_tf.errors import ConfigError

LOCK_FOLDER = os.path.join(tempfile.gettempdir(), "fewgen_tf_workdir_locks")


def lock_path(workdir: str) -> str:
    """The lock file of `workdir` (its real path, so a symlink or `..` names the same)."""
    real = os.path.realpath(os.path.expanduser(workdir))
    digest = hashlib.sha256(real.encode()).hexdigest()[:24]
    return os.path.join(LOCK_FOLDER, f"{digest}.lock")


class WorkdirLock:
    """`with WorkdirLock(workdir):` the run's exclusive hold on `workdir`; entering
    raises ConfigError naming the holder when another live process holds it."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.path = lock_path(workdir)
        self._file = None

    def acquire(self) -> "WorkdirLock":
        os.makedirs(LOCK_FOLDER, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = _describe(handle.read())
            handle.close()
            raise ConfigError(f"workdir {self.workdir} is in use by another run ({holder}); a "
                              "workdir belongs to one run at a time: wait for it to end or "
                              "use another --workdir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.datetime.now().isoformat(timespec="seconds"),
            "workdir": os.path.realpath(self.workdir), "command": " ".join(sys.argv)}))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _describe(text: str) -> str:
    try:
        holder = json.loads(text)
        return (f"pid {holder['pid']} on {holder['host']} since {holder['since']}: "
                f"{holder['command']}")
    except (ValueError, KeyError, TypeError):
        return "a process that has not yet written its name"
