"""Start one sandbox: claim a user, set the limits, become bubblewrap.

    python -m autograder.sandbox.launch CONFIG.json [CONNECTION_FILE [KERNEL ARGUMENTS...]]

CONFIG (written by the grader, never by a submission) holds the bubblewrap command line, with
``{uid}`` where the sandbox's user goes and ``{connection_file}`` where a Jupyter kernel's
connection file goes, the :class:`~autograder.sandbox.limits.Limits` (and whether the sandbox sets
its process limit itself, inside its own user namespace), and the host paths the sandbox's user
must own (the kernel's runtime directory). This process then replaces itself with bubblewrap
(``os.execvp``), so the limits hold for the sandbox and everything it starts, and a Jupyter client
that stops "the kernel" stops the sandbox.

A Jupyter kernel spec runs it with the connection file (and any extra kernel arguments the
Jupyter client adds, which go at the end of the command); the grader runs it directly for the
worker.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys

from autograder.sandbox.limits import Limits

SANDBOX_UID_BASE = 200_000  # unprivileged uids for root-started sandboxes: 200000, 200001, ...
_UID_SLOTS = 4096


def claim_uid() -> tuple[int, int] | None:
    """(uid, lock fd) of an unprivileged uid no other sandbox here uses now; None unless root.

    Linux counts the process limit per user, so each root-started sandbox gets a user of its own:
    a fork bomb in one cannot use up another's processes. The uid stays claimed while the lock
    file descriptor is open anywhere (it is inherited by the sandbox), across threads and
    separate grader processes alike.
    """
    if os.geteuid() != 0:
        return None
    for uid in range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + _UID_SLOTS):
        fd = os.open(f"/tmp/cs231kit-sandbox-uid-{uid}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError(f"no free sandbox uid: {_UID_SLOTS} sandboxes at once")


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m autograder.sandbox.launch CONFIG.json [CONNECTION_FILE ...]")
    with open(argv[0]) as handle:
        config = json.load(handle)
    connection_file = argv[1] if len(argv) > 1 else ""
    claimed = claim_uid()
    uid = str(claimed[0]) if claimed else ""
    command = [
        part.replace("{uid}", uid).replace("{connection_file}", connection_file)
        for part in config["argv"]
    ] + argv[2:]
    if claimed:
        os.set_inheritable(claimed[1], True)  # held until the last process of the sandbox ends
        for path in config.get("owned", []) + ([connection_file] if connection_file else []):
            os.chown(path, claimed[0], claimed[0])
    Limits(**config["limits"]).apply(processes=not config.get("processes_inside", False))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
